"""The ``exchange`` command.

``exchange serve [--host] [--port] [--config FILE] [--data-dir DIR] [--metrics-port PORT]``
runs the server,
``exchange inspect DIR`` describes a data directory, ``exchange upgrade DIR`` converts its
snapshots of an older format (see :mod:`exchange.server.upgrade`),
``exchange hash-token [TOKEN]``
prints the ``token_hash`` line of a token for the config, and ``exchange loadgen``,
``exchange market-maker`` and ``exchange watch`` run the tools in ``scripts/`` of a
source checkout (they pass every argument on; ``exchange loadgen --help``).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import runpy
import ssl
import sys
from pathlib import Path

from exchange.server.auth import hash_token
from exchange.server.config import ConfigError, demo_config, load_config
from exchange.server.frontends import FRONTENDS
from exchange.server.journal import RecoveryError
from exchange.server.server import run_server
from protocol.fields import MAX_TOKEN_LEN


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """The listener's TLS: TLS 1.2 at least, the ``ssl`` module's default ciphers.
    Raises OSError or ssl.SSLError when the files cannot be read or do not match."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def _serve(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config) if args.config else demo_config()
        config.build_exchange()  # fail here, with the field named, not after binding
    except (ConfigError, ValueError) as exc:
        print(f"exchange: bad config: {exc}", file=sys.stderr)
        return 2
    if (args.tls_cert is None) != (args.tls_key is None):
        print("exchange: give both --tls-cert and --tls-key, or neither", file=sys.stderr)
        return 2
    context = None
    if args.tls_cert is not None:
        try:
            context = tls_context(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as exc:
            print(f"exchange: cannot use --tls-cert {args.tls_cert} --tls-key {args.tls_key}: "
                  f"{exc}", file=sys.stderr)
            return 2
        logging.getLogger("exchange.server").info(
            "TLS on the listener (certificate %s, TLS 1.2 at least)", args.tls_cert)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency everywhere it builds
        runner = asyncio.run
    else:
        runner = uvloop.run
    try:
        others = {name: getattr(args, f"{name}_port") for name in FRONTENDS
                  if name != "lines" and getattr(args, f"{name}_port") is not None}
        if "fix" not in others and config.fix.port is not None:
            others["fix"] = config.fix.port  # the config's [fix] port
        metrics_port = (args.metrics_port if args.metrics_port is not None
                        else config.metrics.port)  # else the config's [metrics] port
        status = runner(run_server(config, args.host, args.port, args.data_dir, context,
                                   others, metrics_port))
        if status:
            return int(status)  # 70: a command met a bug (see ExchangeServer._fatal)
    except RecoveryError as exc:
        print(f"exchange: cannot recover {args.data_dir}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"exchange: cannot listen on {args.host}:{args.port}: {exc.strerror}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover - signal handlers normally catch it
        pass
    return 0


def _hash_token(args: argparse.Namespace) -> int:
    """Print ``token_hash = "..."`` for a token given, typed (no echo) or piped in."""
    token = args.token
    if token is None:
        if sys.stdin.isatty():
            token = getpass.getpass("token: ")
            if getpass.getpass("again: ") != token:
                print("exchange hash-token: the two tokens differ", file=sys.stderr)
                return 2
        else:
            token = sys.stdin.readline().rstrip("\r\n")
    if not token or len(token) > MAX_TOKEN_LEN:
        print(f"exchange hash-token: a token is 1 to {MAX_TOKEN_LEN} characters",
              file=sys.stderr)
        return 2
    print(f'token_hash = "{hash_token(token)}"')
    return 0


TOOLS = {"loadgen": "loadgen.py", "market-maker": "market_maker.py", "watch": "watch.py"}
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _tool(name: str, argv: list[str]) -> int:
    """Run one of the scripts/ tools with the rest of the command line."""
    path = SCRIPTS / TOOLS[name]
    if not path.is_file():
        print(f"exchange {name}: {path} not found; the tools live in scripts/ of a source "
              "checkout", file=sys.stderr)
        return 2
    sys.path.insert(0, str(SCRIPTS))
    module = runpy.run_path(str(path), run_name=f"exchange_{name.replace('-', '_')}")
    result = module["main"](argv)
    return result if isinstance(result, int) else 0


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in and args_in[0] in TOOLS:
        return _tool(args_in[0], args_in[1:])
    parser = argparse.ArgumentParser(prog="exchange",
                                     description="An in-memory stock and crypto exchange.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the exchange server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7878)
    serve.add_argument("--config", help="TOML config (default: the built-in demo market)")
    serve.add_argument("--data-dir", help="make the exchange durable in this directory")
    serve.add_argument("--log-level", default="INFO",
                       choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.add_argument("--tls-cert", metavar="FILE",
                       help="serve TLS with this PEM certificate (chain); needs --tls-key")
    serve.add_argument("--tls-key", metavar="FILE", help="the PEM private key of --tls-cert")
    for name in FRONTENDS:
        if name != "lines":  # each further front-end listens on a port of its own
            serve.add_argument(f"--{name}-port", type=int, metavar="PORT",
                               help=f"also serve the {name} front-end on this port "
                                    "(0 picks a free one)")
    serve.add_argument("--metrics-port", type=int, metavar="PORT",
                       help="serve Prometheus metrics at /metrics on this port "
                            "(0 picks a free one; docs/METRICS.md)")
    hasher = sub.add_parser("hash-token", help="print the token_hash config line of a token")
    hasher.add_argument("token", nargs="?",
                        help="the token (default: typed without echo, or read from stdin; "
                             "an argument is visible to other local users in ps)")
    inspect = sub.add_parser("inspect", help="describe a data directory (snapshots, journal)")
    inspect.add_argument("data_dir")
    inspect.add_argument("--records", type=int, default=0, metavar="N",
                         help="also print the first N records of each journal segment")
    repair = sub.add_parser("repair", help="cut a damaged journal at its first damage")
    repair.add_argument("data_dir")
    repair.add_argument("--truncate-at-damage", action="store_true",
                        help="do cut (without it, only say what would be lost)")
    upgrade = sub.add_parser(
        "upgrade", help="convert a data directory's old (pickled) snapshots; only for a "
                        "directory you trust: reading them can run code")
    upgrade.add_argument("data_dir")
    for tool in TOOLS:
        sub.add_parser(tool, help=f"run scripts/{TOOLS[tool]} (arguments are passed on)",
                       add_help=False)
    args = parser.parse_args(args_in)
    logging.basicConfig(level=getattr(args, "log_level", "WARNING"), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        return _serve(args)
    if args.command == "hash-token":
        return _hash_token(args)
    if args.command == "inspect":
        from exchange.server.inspect import inspect as describe

        print(describe(Path(args.data_dir), args.records))
        return 0
    if args.command == "repair":
        from exchange.server.inspect import repair as repair_dir

        status, report = repair_dir(Path(args.data_dir), args.truncate_at_damage)
        print(report)
        return status
    if args.command == "upgrade":
        from exchange.server.upgrade import upgrade as upgrade_dir

        status, report = upgrade_dir(Path(args.data_dir))
        print(report)
        return status
    return 2  # pragma: no cover - argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
