"""The history database's schema (SQLite): tables, indexes, and the schema version.

Every amount is an engine integer, as the journal holds it: prices in ticks, quantities in
lots, cash in cash units, times in microseconds since the epoch (UTC). Decimals are made
only when a row is shown (the reply, the CSV), with the symbol's tick and lot, so that a
row is exactly what the engine did and never a rounding of it. ``docs/HISTORY.md``
describes each table for someone querying the file directly (``sqlite3 history.sqlite``).
"""

from __future__ import annotations

from typing import Final

ORDER_FIELDS: Final = ("hid", "order_id", "symbol", "side", "kind", "tif", "price",
                       "stop_price", "qty", "filled", "notional", "status", "reason",
                       "accepted_at", "expires_at", "ended_at", "client_order_id")
"""An ended order in an ``orders`` row's JSON: these, in this order (the user is the row's)."""
AUDIT_FIELDS: Final = ("id", "seq", "ts", "action", "record", "status", "order_id", "count",
                       "error_code", "error_message")
"""An audit event in an ``audit`` row's JSON: ``record`` is the command record as the
journal holds it (``[op, time, ...fields]``), or ``{"peer": ...}`` for a login or logout;
``status`` and ``order_id`` are the addressed order's after the command; ``count`` the
trades it made (or the orders a bulk command ended); a refusal has its error."""

SCHEMA_VERSION: Final = 1
"""Bumped when a table changes; a file of another version is rebuilt from the journal."""

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
-- Orders that ended (filled, canceled, expired, rejected), in their final state. A row
-- holds one user's orders that ended in one batch, as a JSON array of ORDER_FIELDS
-- arrays (the view order_rows shows them one per row): a batch of hundreds of orders
-- costs one row. hid numbers the ended orders in the order they ended.
CREATE TABLE IF NOT EXISTS orders (
    user      TEXT NOT NULL,
    first_hid INTEGER NOT NULL,
    last_hid  INTEGER NOT NULL,
    first_ts  INTEGER NOT NULL,
    last_ts   INTEGER NOT NULL,
    orders    TEXT NOT NULL,
    PRIMARY KEY (user, first_hid)
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS order_rows AS SELECT orders.user AS user,
    json_extract(value, '$[0]') AS hid, json_extract(value, '$[1]') AS order_id,
    json_extract(value, '$[2]') AS symbol, json_extract(value, '$[3]') AS side,
    json_extract(value, '$[4]') AS kind, json_extract(value, '$[5]') AS tif,
    json_extract(value, '$[6]') AS price, json_extract(value, '$[7]') AS stop_price,
    json_extract(value, '$[8]') AS qty, json_extract(value, '$[9]') AS filled,
    json_extract(value, '$[10]') AS notional, json_extract(value, '$[11]') AS status,
    json_extract(value, '$[12]') AS reason, json_extract(value, '$[13]') AS accepted_at,
    json_extract(value, '$[14]') AS expires_at, json_extract(value, '$[15]') AS ended_at,
    json_extract(value, '$[16]') AS client_order_id
    FROM orders, json_each(orders.orders);
-- Every trade: the public tape, and each side's fill.
CREATE TABLE IF NOT EXISTS trades (
    trade_id      INTEGER PRIMARY KEY,
    symbol        TEXT NOT NULL,
    price         INTEGER NOT NULL,
    qty           INTEGER NOT NULL,
    buy_order_id  INTEGER NOT NULL,
    sell_order_id INTEGER NOT NULL,
    taker_side    TEXT NOT NULL,
    ts            INTEGER NOT NULL,
    buy_user      TEXT NOT NULL,
    sell_user     TEXT NOT NULL,
    buy_fee       INTEGER NOT NULL DEFAULT 0,
    sell_fee      INTEGER NOT NULL DEFAULT 0,
    sell_basis    INTEGER
);
CREATE INDEX IF NOT EXISTS trades_by_symbol ON trades (symbol, ts);
CREATE INDEX IF NOT EXISTS trades_by_buyer ON trades (buy_user, ts);
CREATE INDEX IF NOT EXISTS trades_by_seller ON trades (sell_user, ts);
-- Deposits and withdrawals.
CREATE TABLE IF NOT EXISTS cash (
    id     INTEGER PRIMARY KEY,
    seq    INTEGER NOT NULL,
    ts     INTEGER NOT NULL,
    user   TEXT NOT NULL,
    kind   TEXT NOT NULL,
    amount INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS cash_by_user ON cash (user, ts);
-- The audit trail: every command the exchange ran or refused, logins and logouts. A
-- row holds one user's events of one batch, as a JSON array of AUDIT_FIELDS arrays (the
-- view audit_rows shows them one per row).
CREATE TABLE IF NOT EXISTS audit (
    user     TEXT NOT NULL,
    first_id INTEGER NOT NULL,
    last_id  INTEGER NOT NULL,
    first_ts INTEGER NOT NULL,
    last_ts  INTEGER NOT NULL,
    events   TEXT NOT NULL,
    PRIMARY KEY (user, first_id)
) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS audit_rows AS SELECT audit.user AS user,
    json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS seq,
    json_extract(value, '$[2]') AS ts, json_extract(value, '$[3]') AS action,
    json_extract(value, '$[4]') AS record, json_extract(value, '$[5]') AS status,
    json_extract(value, '$[6]') AS order_id, json_extract(value, '$[7]') AS count,
    json_extract(value, '$[8]') AS error_code, json_extract(value, '$[9]') AS error_message
    FROM audit, json_each(audit.events);
-- Each user's notifications inbox, by user, then id.
CREATE TABLE IF NOT EXISTS inbox (
    user     TEXT NOT NULL,
    id       INTEGER NOT NULL,
    ts       INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    symbol   TEXT,
    order_id INTEGER,
    trade_id INTEGER,
    side     TEXT,
    qty      INTEGER,
    price    INTEGER,
    text     TEXT NOT NULL,
    read     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user, id)
) WITHOUT ROWID;
"""
