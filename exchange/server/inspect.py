"""``exchange inspect DIR``: what a data directory holds, for people and for debugging.

Reads snapshots and journal segments with the journal's own readers and changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from exchange.server.journal import read_segment, read_snapshot, scan_segment, segments, snapshots
from exchange.server.views import Clock


def inspect(data_dir: Path, show_records: int = 0) -> str:
    """A human-readable account of a data directory (``exchange inspect DIR``)."""
    clock = Clock()
    lines = [f"data directory {data_dir}"]
    if not data_dir.is_dir():
        return f"{data_dir}: not a directory"
    last = None
    for seq, path in snapshots(data_dir):
        loaded = read_snapshot(path)
        if loaded is None:
            lines.append(f"  {path.name}: UNREADABLE")
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
        if scan.last_seq is not None:
            last = scan.last_seq
        if show_records:
            for shown, (seq, entry, _) in enumerate(read_segment(path)):
                if shown >= show_records:
                    break
                lines.append(f"    {seq}: {entry}")
    lines.append(f"  last record: {last if last is not None else 'none'}")
    return "\n".join(lines)
