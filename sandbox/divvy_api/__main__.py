"""``python -m sandbox.divvy_api --port 8082 [--seed file.json | --generate-week 2026-11-16]``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from sandbox.divvy_api.generator import generate_week
from sandbox.divvy_api.server import DivvyServer
from sandbox.divvy_api.state import DivvyState, load_seed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.divvy_api", description="Strict local Divvy (BILL S&E v3) API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--seed", help="seed JSON file (default: the bundled seeds/default.json)")
    source.add_argument(
        "--generate-week", type=date.fromisoformat, metavar="YYYY-MM-DD", help="generate a week"
    )
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed-number", type=int, default=7)
    parser.add_argument("--per-day", type=int, default=40)
    parser.add_argument("--calls-per-minute", type=int, default=60)
    parser.add_argument("--window-seconds", type=float, default=60.0)
    parser.add_argument("--no-retry-after", action="store_true", help="omit Retry-After on 429")
    parser.add_argument(
        "--dump", action="store_true", help="print the seed as JSON and exit (no server)"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    seed: object = args.seed
    if args.generate_week:
        seed = generate_week(
            args.generate_week, args.days, seed=args.seed_number, per_day=args.per_day
        )
    state = DivvyState(
        seed,  # type: ignore[arg-type]
        calls_per_minute=args.calls_per_minute,
        window_seconds=args.window_seconds,
        retry_after=not args.no_retry_after,
    )
    if args.dump:
        json.dump(load_seed(seed), sys.stdout, ensure_ascii=False, indent=1)  # type: ignore[arg-type]
        return 0
    server = DivvyServer(state, args.host, args.port, verbose=args.verbose)
    # Tokens stay out of the console like any credential: they are in the seed file.
    print(
        f"Divvy emulator on {server.url} (OAuth: POST {server.token_url}); "
        f"{len(state.transactions)} transactions; {len(state.tokens)} API token(s) from the seed",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop_serving()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
