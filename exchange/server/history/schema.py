"""The history database's schema (SQLite): tables, indexes, and the schema version.

Every amount is an engine integer, as the journal holds it: prices in ticks, quantities in
lots, cash in cash units, times in microseconds since the epoch (UTC). Decimals are made
only when a row is shown (the reply, the CSV), with the symbol's tick and lot, so that a
row is exactly what the engine did and never a rounding of it. ``docs/HISTORY.md``
describes each table for someone querying the file directly (``sqlite3 history.sqlite``).
"""

from __future__ import annotations

from typing import Final

SCHEMA_VERSION: Final = 1
"""Bumped when a table changes; a file of another version is rebuilt from the journal."""

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
-- Orders that ended (filled, canceled, expired, rejected), in their final state.
CREATE TABLE IF NOT EXISTS orders (
    order_id        INTEGER PRIMARY KEY,
    user            TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    tif             TEXT NOT NULL,
    price           INTEGER,
    stop_price      INTEGER,
    qty             INTEGER NOT NULL,
    filled          INTEGER NOT NULL,
    notional        INTEGER NOT NULL,
    status          TEXT NOT NULL,
    reason          TEXT,
    accepted_at     INTEGER NOT NULL,
    expires_at      INTEGER,
    ended_at        INTEGER NOT NULL,
    client_order_id TEXT
);
CREATE INDEX IF NOT EXISTS orders_by_user ON orders (user, accepted_at);
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
-- The audit trail: every command the exchange ran or refused, logins and logouts.
CREATE TABLE IF NOT EXISTS audit (
    id      INTEGER PRIMARY KEY,
    seq     INTEGER NOT NULL,
    ts      INTEGER NOT NULL,
    user    TEXT NOT NULL,
    action  TEXT NOT NULL,
    record  BLOB NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_user ON audit (user, id);
-- Each user's notifications inbox.
CREATE TABLE IF NOT EXISTS inbox (
    id       INTEGER PRIMARY KEY,
    user     TEXT NOT NULL,
    ts       INTEGER NOT NULL,
    kind     TEXT NOT NULL,
    symbol   TEXT,
    order_id INTEGER,
    trade_id INTEGER,
    side     TEXT,
    qty      INTEGER,
    price    INTEGER,
    text     TEXT NOT NULL,
    read     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS inbox_by_user ON inbox (user, read, id);
"""
