"""``python -m sandbox.intacct_gateway --port 8081 [--seed path.json] [--xsd api.xsd]
[--concurrency N] [--latency-ms MS]``."""

from __future__ import annotations

import argparse

from .schema import default_xsd_path
from .server import serve
from .state import DEFAULT_SEED_PATH, load_seed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.intacct_gateway",
        description="Strict local Sage Intacct XML gateway",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--seed", default=str(DEFAULT_SEED_PATH), help="seed JSON file")
    parser.add_argument(
        "--xsd",
        default=None,
        help="api.xsd path (default $INTACCT_XSD_PATH or the shared reference)",
    )
    parser.add_argument("--session-timeout", type=int, default=3600, help="seconds (sliding)")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND[:COUNT]",
        help="queue a fault at start, e.g. rate_limit:2 (repeatable)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="API jobs processed at once; more requests queue (default 1, as the standard "
        "level of service)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="milliseconds each request takes at least, inside its job slot (default 0)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    state = load_seed(args.seed, session_timeout_seconds=args.session_timeout)
    server = serve(
        state,
        args.host,
        args.port,
        args.xsd,
        verbose=args.verbose,
        concurrency=args.concurrency,
        latency=args.latency_ms / 1000,
    )
    for spec in args.fault:
        kind, _, count = spec.partition(":")
        server.gateway.queue_fault(kind, int(count or 1))
    xsd = args.xsd or default_xsd_path()
    mode = "xsd" if server.gateway.schema is not None else "structural checks (xsd not found)"
    print(
        f"Intacct gateway on {server.gateway.endpoint} (seed {args.seed}; schema: {mode} {xsd})",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
