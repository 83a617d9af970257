"""``exchange inspect DIR``: what a data directory holds, for people and for debugging.

Reads snapshots and journal segments with the journal's own readers and changes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from exchange.server.journal import (
    RecoveryError,
    UnreadableSnapshot,
    find_damage,
    load_snapshot,
    old_snapshots,
    read_segment,
    scan_segment,
    segments,
    snapshots,
)
from exchange.server.views import Clock


def inspect(data_dir: Path, show_records: int = 0) -> str:
    """A human-readable account of a data directory (``exchange inspect DIR``)."""
    clock = Clock()
    lines = [f"data directory {data_dir}"]
    if not data_dir.is_dir():
        return f"{data_dir}: not a directory"
    last = None
    for _, path in old_snapshots(data_dir):
        lines.append(f"  {path.name}: OLD FORMAT (a pickle, not read here); the server "
                     f"refuses to start until it is converted: exchange upgrade {data_dir}")
    for seq, path in snapshots(data_dir):
        try:
            loaded = load_snapshot(path)
        except UnreadableSnapshot as exc:
            lines.append(f"  {path.name}: UNREADABLE ({exc})")
            continue
        except RecoveryError as exc:
            lines.append(f"  {path.name}: NEWER FORMAT: {exc}")
            continue
        last = seq
        _, written_at, exchange = loaded
        orders = len(exchange.store.all_orders())
        lines.append(f"  {path.name}: record {seq}, written {clock.fmt(written_at)}, "
                     f"{len(exchange.accounts.by_user)} users, {orders} orders kept, "
                     f"next order id {exchange.next_order_id}, next trade id "
                     f"{exchange.next_trade_id}")
    for _, path in segments(data_dir):
        scan = scan_segment(path)
        span = (f"records {scan.first_seq}..{scan.last_seq}" if scan.records
                else "no records")
        torn = f", TORN TAIL {scan.torn_bytes} bytes" if scan.torn_bytes else ""
        lines.append(f"  {path.name}: {scan.records} {span}, {scan.good_bytes} bytes{torn}")
        if scan.torn_bytes:
            damage = find_damage(path, scan.last_seq or 0)
            if damage is not None and damage.intact_after:
                lines.append(f"    DAMAGED at byte {damage.offset}: {damage.reason}; "
                             f"{damage.intact_after} intact records follow (records "
                             f"{damage.first_seq_after}..{damage.last_seq_after}); the "
                             "server refuses to start (exchange repair)")
            elif damage is not None:
                lines.append(f"    at byte {damage.offset}: {damage.reason}")
        if scan.last_seq is not None:
            last = scan.last_seq
        if show_records:
            for shown, (seq, entry, _) in enumerate(read_segment(path)):
                if shown >= show_records:
                    break
                lines.append(f"    {seq}: {_shown(entry)}")
    lines.append(f"  last record: {last if last is not None else 'none'}")
    return "\n".join(lines)


def _shown(entry: object) -> object:
    """A record as printed: a ``two_factor`` record's secret is left out (it is the
    user's second factor; only the ``otp_setup`` reply ever shows it)."""
    if isinstance(entry, list) and entry and entry[0] == "two_factor" and len(entry) > 3:
        return [*entry[:3], "<secret>" if entry[3] else "", *entry[4:]]
    return entry


def repair(data_dir: Path, truncate: bool) -> tuple[int, str]:
    """``exchange repair DIR [--truncate-at-damage]``: cut a journal at its first damage.

    Without ``truncate`` it only says what the cut would lose. With it, the segment is
    cut at the damaged record and every later segment is removed (their records follow
    the cut, so they could never be replayed). Returns ``(exit status, report)``.
    """
    found = segments(data_dir)
    for i, (_, path) in enumerate(found):
        scan = scan_segment(path)
        if not scan.torn_bytes:
            continue
        damage = find_damage(path, scan.last_seq or 0)
        assert damage is not None
        later = [p for _, p in found[i + 1:]]
        lost_records = damage.intact_after + sum(scan_segment(p).records for p in later)
        lost_bytes = (path.stat().st_size - damage.offset) + sum(p.stat().st_size
                                                                 for p in later)
        seqs = [q for q in (damage.first_seq_after, damage.last_seq_after) if q is not None]
        for p in later:
            scanned = scan_segment(p)
            seqs += [q for q in (scanned.first_seq, scanned.last_seq) if q is not None]
        span = f" (records {min(seqs)}..{max(seqs)})" if seqs else ""
        plan = (f"{path.name}: damaged at byte {damage.offset} ({damage.reason}); cutting "
                f"there loses {lost_records} intact records{span} and {lost_bytes} bytes"
                + (f", and removes {', '.join(p.name for p in later)}" if later else ""))
        if not truncate:
            return 1, plan + "\nnothing changed; run again with --truncate-at-damage to cut"
        with open(path, "r+b") as fh:
            fh.truncate(damage.offset)
            fh.flush()
            os.fsync(fh.fileno())
        for p in later:
            p.unlink()
        return 0, plan + "\ncut."
    return 0, f"{data_dir}: no damage found; nothing to do"
