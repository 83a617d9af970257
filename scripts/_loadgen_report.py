"""What a load run measured, and how it is reported: counters, HDR latencies, plots.

Split from loadgen.py, which drives the load; this half only counts and reports.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


@dataclass
class Stats:
    """Counters and latencies of the whole run (all sessions share one)."""

    keep_samples: bool = False
    sent: Counter[str] = field(default_factory=Counter)
    replies: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    canceled: int = 0
    modified: int = 0
    fills: int = 0
    fill_events: int = 0
    other_events: int = 0
    lost: int = 0
    first_send: float = math.inf
    last_reply: float = 0.0
    hist: HdrHistogram = field(default_factory=lambda: HdrHistogram(1, 600_000_000, 3))
    # Latencies (microseconds) -> how many, folded into `hist` now and then: one dict
    # increment per reply instead of one pure-Python histogram update.
    pending_lat: dict[int, int] = field(default_factory=dict)
    # Open loop: how late each request went out, by its schedule (microseconds -> count).
    send_lag: dict[int, int] = field(default_factory=dict)
    sample_t: array[float] = field(default_factory=lambda: array("d"))
    sample_us: array[float] = field(default_factory=lambda: array("d"))

    def fold(self) -> None:
        record = self.hist.record_value
        top = self.hist.highest_trackable_value
        for value, count in self.pending_lat.items():
            record(min(max(value, 1), top), count)
        self.pending_lat.clear()

    @property
    def sent_total(self) -> int:
        return sum(self.sent.values())


# --- report -----------------------------------------------------------------------------


def summary(stats: Stats, run: dict[str, Any], server: dict[str, Any]) -> dict[str, Any]:
    """The run's results as one JSON-ready dict (``run``: rate, sessions, window, symbols, seed)."""
    elapsed = max(stats.last_reply - stats.first_send, 1e-9) if stats.replies else 0.0
    hist = stats.hist
    count = hist.get_total_count()
    latency = {f"p{p:g}": hist.get_value_at_percentile(p) if count else None
               for p in PERCENTILES}
    latency["max"] = hist.get_max_value() if count else None
    latency["mean"] = round(hist.get_mean_value(), 1) if count else None
    send_lag = None
    if stats.send_lag:
        lag = HdrHistogram(1, 600_000_000, 3)
        for value, n in stats.send_lag.items():
            lag.record_value(min(max(value, 1), lag.highest_trackable_value), n)
        send_lag = {f"p{p:g}": lag.get_value_at_percentile(p) for p in PERCENTILES}
        send_lag["max"] = lag.get_max_value()
    return {
        "mode": "closed" if run["rate"] is None else "open",
        "sessions": run["sessions"],
        "window": run["window"] if run["rate"] is None else None,
        "rate": run["rate"],
        "symbols": run["symbols"],
        "seed": run["seed"],
        "server": server,
        "orders_sent": stats.sent_total,
        "sent_by_op": dict(stats.sent),
        "replies": stats.replies,
        "lost": stats.lost,
        "elapsed_s": round(elapsed, 6),
        "throughput": round(stats.replies / elapsed, 1) if elapsed else 0.0,
        "latency_us": latency,
        "send_lag_us": send_lag,
        "accepted": stats.accepted,
        "rejected": dict(stats.rejected.most_common()),
        "errors": dict(stats.errors.most_common()),
        "canceled": stats.canceled,
        "modified": stats.modified,
        "fills": stats.fills,
        "fill_events": stats.fill_events,
        "other_events": stats.other_events,
    }


def print_summary(result: dict[str, Any], out: Any = None) -> None:
    out = out or sys.stdout
    lat = result["latency_us"]

    def counts(d: dict[str, int]) -> str:
        return ", ".join(f"{k} {v:,}" for k, v in d.items()) or "none"

    mode = (f"closed loop, window {result['window']}" if result["mode"] == "closed"
            else f"open loop, {result['rate']:,.0f} orders/s")
    ops = ", ".join(f"{k} {v:,}" for k, v in result["sent_by_op"].items())
    lines = [
        f"loadgen: {result['sessions']} session(s), {mode}, symbols "
        f"{','.join(result['symbols'])}, seed {result['seed']}",
        f"  orders sent   {result['orders_sent']:,} ({ops})",
        f"  replies       {result['replies']:,}" + (f" ({result['lost']:,} never answered)"
                                                    if result["lost"] else ""),
        f"  elapsed       {result['elapsed_s']:.3f} s",
        f"  throughput    {result['throughput']:,.0f} orders/s",
    ]
    keys = ("p50", "p90", "p99", "p99.9", "max")
    if lat["max"] is not None:
        lines.append("  latency (us)  " + "  ".join(f"{k} {lat[k]:,}" for k in keys))
    if result["send_lag_us"] is not None:
        lag = result["send_lag_us"]
        lines.append("  send lag (us) " + "  ".join(f"{k} {lag[k]:,}" for k in keys)
                     + "  (included above)")
    lines += [
        f"  accepted      {result['accepted']:,}   canceled {result['canceled']:,}"
        f"   modified {result['modified']:,}",
        f"  rejected      {counts(result['rejected'])}",
        f"  errors        {counts(result['errors'])}",
        f"  fills         {result['fills']:,} in replies, {result['fill_events']:,} fill events",
    ]
    print("\n".join(lines), file=out)


def plot(stats: Stats, result: dict[str, Any], path: str) -> None:
    """Latency over time (per-100 ms percentiles over a scatter of samples) and the
    percentile distribution, in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import FixedFormatter, FixedLocator

    t = np.frombuffer(stats.sample_t, dtype=np.float64) - stats.first_send
    us = np.frombuffer(stats.sample_us, dtype=np.float64)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 9))
    title = (f"{result['mode']} loop, {result['sessions']} session(s), "
             f"{result['throughput']:,.0f} orders/s")
    fig.suptitle(title)
    if len(us):
        step = max(1, len(us) // 20_000)
        ax1.scatter(t[::step], us[::step], s=1, alpha=0.25, color="grey", label="samples")
        bins = np.floor(t / 0.1).astype(np.int64)
        order = np.argsort(bins, kind="stable")
        bins, vals = bins[order], us[order]
        edges = np.flatnonzero(np.diff(bins)) + 1
        starts = np.concatenate(([0], edges))
        ends = np.concatenate((edges, [len(bins)]))
        centers = bins[starts] * 0.1 + 0.05
        for q, color in ((50, "tab:blue"), (99, "tab:orange"), (99.9, "tab:red")):
            ys = [np.percentile(vals[a:b], q) for a, b in zip(starts, ends, strict=True)]
            ax1.plot(centers, ys, color=color, linewidth=1.2, label=f"p{q:g} per 100 ms")
        ax1.plot(centers, [vals[a:b].max() for a, b in zip(starts, ends, strict=True)],
                 color="black", linewidth=0.6, linestyle=":", label="max per 100 ms")
        ax1.set_yscale("log")
    ax1.set_xlabel("time since start (s)")
    ax1.set_ylabel("latency (us)")
    ax1.legend(loc="upper right", fontsize="small")
    ax1.grid(True, which="both", alpha=0.3)

    hist = stats.hist
    count = hist.get_total_count()
    if count:
        top = min(99.999, 100 * (1 - 1 / max(count, 2)))
        ps = 100 - 100 / np.logspace(0, 5, 300)
        ps = ps[ps <= top]
        xs = 1 / (1 - ps / 100)
        ys = [hist.get_value_at_percentile(p) for p in ps]
        ax2.plot(xs, ys, color="tab:blue", drawstyle="steps-post")
        ax2.set_xscale("log")
        ticks = [1, 2, 10, 100, 1000, 10_000, 100_000]
        ax2.xaxis.set_major_locator(FixedLocator(ticks))
        ax2.xaxis.set_major_formatter(FixedFormatter(
            ["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%"]))
        ax2.xaxis.set_minor_locator(FixedLocator([]))
        ax2.set_xlim(1, 100_000)
    ax2.set_xlabel("percentile")
    ax2.set_ylabel("latency (us)")
    ax2.set_title("latency by percentile (HDR histogram)")
    ax2.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
