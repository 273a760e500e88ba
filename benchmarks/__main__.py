"""``python -m benchmarks [name ...]``: run benchmarks and print the figures table."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import sys
import time
import traceback

from benchmarks import BENCHMARKS, _env
from benchmarks._harness import Outcome, format_table


def _run_one(name: str) -> Outcome:
    outcome = Outcome(name)
    start = time.perf_counter()
    try:
        # Imported here, after _env.prepare(): the modules reach airflow through the hooks.
        module = importlib.import_module(BENCHMARKS[name])
        outcome.figures = module.run()
    except Exception:
        outcome.error = traceback.format_exc()
    outcome.seconds = time.perf_counter() - start
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the benchmarks and print each figure with its target (PASS/MISS).",
    )
    parser.add_argument("names", nargs="*", metavar="name", help=", ".join(BENCHMARKS))
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument(
        "--size",
        action="append",
        type=int,
        metavar="N",
        help="transactions per window of the e2e benchmark (repeatable; default 1000 and 10000)",
    )
    args = parser.parse_args(argv)
    if args.size:
        from benchmarks.bench_e2e import SIZES_ENV

        os.environ[SIZES_ENV] = ",".join(str(n) for n in args.size)
    if args.list:
        for name, module in BENCHMARKS.items():
            doc = (importlib.import_module(module).__doc__ or "").strip().splitlines()[0]
            print(f"{name:15} {doc}")
        return 0
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    _env.prepare()

    names = args.names or list(BENCHMARKS)
    print(
        f"divvy-intacct benchmarks, {dt.date.today().isoformat()}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPU(s)",
        flush=True,
    )
    outcomes = []
    for name in names:
        print(f"running {name} ...", flush=True)
        outcome = _run_one(name)
        status = "crashed" if outcome.error else "done"
        print(f"  {status} in {outcome.seconds:.1f} s", flush=True)
        if outcome.error:
            print(outcome.error, file=sys.stderr, flush=True)
        outcomes.append(outcome)

    print()
    print(format_table(outcomes))
    total = sum(o.seconds for o in outcomes)
    misses = sum(1 for o in outcomes for f in o.figures if f.verdict == "MISS")
    crashed = [o.name for o in outcomes if o.error]
    print(f"\n{len(names)} benchmark(s) in {total:.0f} s; {misses} target(s) missed", end="")
    print(f"; crashed: {', '.join(crashed)}" if crashed else "")
    # Missed targets are figures to look at, not failures; a crash is a broken benchmark.
    return 1 if crashed else 0


if __name__ == "__main__":
    raise SystemExit(main())
