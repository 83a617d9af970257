"""Instructions per operation, counted by valgrind: a speed figure that noise cannot move.

On a shared machine wall-clock and even CPU-time figures swing by 20% between identical
runs; ``valgrind --tool=callgrind`` counts the instructions executed, which repeat to
within a fraction of a percent whatever else the machine does. This counts two workloads
for this checkout and, with ``--compare DIR``, for another checkout of the project (an
older commit, say) in the same run, and prints both and their ratio:

* ``engine``: ``scripts/bench_engine.py``'s seeded workload (60% passive limits, 25%
  cancels, 15% crossing limits) on the core alone;
* ``server``: JSON-lines place and cancel requests (by client_order_id) from four logged-in
  sessions, pipelined in batches of 64, through the real sessions, gateway, actors and
  codec in one process, with fake transports; both trees must write the same bytes.

Each figure is the count of a run with N operations minus that of the same run with a
few, so that start-up and imports cancel out.

    python scripts/bench_instructions.py [--compare DIR] [--ops 20000] [--requests 3000]

Needs valgrind (Debian's package). Under it Python runs about 50 times slower: the
defaults take two to three minutes per tree. ``PYTHONHASHSEED`` is fixed at 0 so that
dict and set layouts, and so the counts, repeat exactly.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
SESSIONS = ("alice", "bob", "carol", "dave")


# -- the workloads (run inside valgrind, with the tree under test first on sys.path) -----

def _engine(n: int) -> str:
    import bench_engine  # the tree's own copy: its scripts/ folder is on sys.path

    ops = bench_engine.make_ops(n, seed=42)
    ex = bench_engine.make_exchange()
    bench_engine.run_workload(ex, ops)
    return ""


class _Transport:
    """Counts what a session writes; asks for nothing else."""

    def __init__(self) -> None:
        self.written = 0

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 1) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def writelines(self, chunks: list[bytes]) -> None:
        self.written += sum(map(len, chunks))

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def _requests(n: int) -> list[list[bytes]]:
    rnd = random.Random(1)
    batches = []
    for _ in SESSIONS:
        lines = []
        for i in range(n):
            if i % 3 == 2:
                cid = i - 2 - 3 * rnd.randint(0, 10)
                lines.append(b'{"op":"cancel","client_order_id":"c%d","ref":%d}\n' % (cid, i))
            else:
                side = rnd.choice(("buy", "sell"))
                price = 15000 + rnd.randint(-4, 4)
                qty = rnd.randint(1, 5)
                lines.append((f'{{"op":"place","symbol":"AAPL","side":"{side}","qty":"{qty}",'
                              f'"price":"{price // 100}.{price % 100:02d}",'
                              f'"client_order_id":"c{i}","ref":{i}}}\n').encode())
        batches.append([b"".join(lines[j:j + 64]) for j in range(0, n, 64)])
    return batches


async def _server_run(n: int) -> str:
    from exchange.server.config import demo_config
    from exchange.server.gateway import Gateway

    config = demo_config()
    config.limits.login_timeout = 0
    gateway = Gateway(config.build_exchange(), config.limits)
    gateway.start()
    loop = asyncio.get_running_loop()
    try:  # a tree with front-ends; an older one made its sessions itself
        from exchange.server.frontends.lines import LinesProtocol

        def make() -> asyncio.Protocol:
            return LinesProtocol(gateway, loop)  # type: ignore[arg-type]
    except ImportError:
        make = gateway.new_session  # type: ignore[attr-defined]
    peers = []
    for user in SESSIONS:
        protocol, transport = make(), _Transport()
        protocol.connection_made(transport)  # type: ignore[arg-type]
        protocol.data_received(  # type: ignore[attr-defined]
            f'{{"op":"login","user":"{user}","token":"{user}-token"}}\n'.encode())
        peers.append((protocol, transport))
        for _ in range(20):
            await asyncio.sleep(0)
    batches = _requests(n)
    for j in range(len(batches[0])):
        for (protocol, _), batch in zip(peers, batches, strict=True):
            protocol.data_received(batch[j])  # type: ignore[attr-defined]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    while any(actor.queue.qsize() for actor in gateway.actors.values()):
        await asyncio.sleep(0)
    for _ in range(5):
        await asyncio.sleep(0)
    gateway.stop()
    return f"wrote {sum(t.written for _, t in peers)} bytes"


def _server(n: int) -> str:
    import uvloop

    return uvloop.run(_server_run(n))


WORKLOADS = {"engine": _engine, "server": _server}


# -- the driver ---------------------------------------------------------------------------

def _python(tree: Path) -> str:
    venv = tree / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _count(tree: Path, workload: str, n: int) -> tuple[int, str]:
    """Instructions of one run of ``workload`` with ``n`` operations on ``tree``."""
    env = dict(os.environ, PYTHONPATH=f"{tree}{os.pathsep}{tree / 'scripts'}",
               PYTHONHASHSEED="0")
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
           _python(tree), str(HERE), "--child", workload, str(n)]
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True,
                          check=False)
    match = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode or match is None:
        raise SystemExit(f"{tree}: {workload} failed:\n{done.stdout}\n{done.stderr[-2000:]}")
    return int(match.group(1)), done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", type=Path, metavar="DIR",
                        help="another checkout of the project to count beside this one")
    parser.add_argument("--ops", type=int, default=20_000, help="engine operations")
    parser.add_argument("--requests", type=int, default=3_000,
                        help="requests per session (four sessions)")
    parser.add_argument("--child", nargs=2, metavar=("WORKLOAD", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        # The tree under test, not this file's own checkout, must answer the imports.
        sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE.parent]
        sys.path[:0] = [os.getcwd(), os.path.join(os.getcwd(), "scripts")]
        out = WORKLOADS[args.child[0]](int(args.child[1]))
        if out:
            print(out)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind not found (Debian: apt-get install valgrind)")
    trees = [ROOT] + ([args.compare.resolve()] if args.compare else [])
    sizes = {"engine": (args.ops, 100), "server": (args.requests, 128)}
    results: dict[str, list[float]] = {}
    for workload, (n, base) in sizes.items():
        ops = n if workload == "engine" else (n - base) * len(SESSIONS)
        for tree in trees:
            full, said = _count(tree, workload, n)
            small, _ = _count(tree, workload, base)
            per_op = (full - small) / (ops if workload == "server" else n - base)
            results.setdefault(workload, []).append(per_op)
            print(f"{workload}: {tree.name}: {per_op:,.0f} instructions per operation"
                  + (f" ({said})" if said else ""), flush=True)
        if len(trees) == 2:
            here, there = results[workload]
            print(f"{workload}: {ROOT.name} / {trees[1].name} = {here / there:.3f}")


if __name__ == "__main__":
    main()
