"""``python -m soak --schedules 1000 --seed 1``: the randomized fault soak from the command line.

Exit status 0 when no schedule found a duplicate, a loss or any other problem, 1 otherwise.
Replay one schedule exactly: ``python -m soak --seed S --only N``.
"""

from __future__ import annotations

import argparse
import sys

from soak import _env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m soak",
        description="Drive the sync steps through randomized, seeded fault schedules and check "
        "that Intacct holds every Divvy CLEAR exactly once.",
    )
    parser.add_argument("--schedules", type=int, default=1000, help="how many (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="same seed = same schedules")
    parser.add_argument(
        "--only",
        action="append",
        metavar="N[,N…]",
        help="run only these schedules (repeatable, or comma-separated), to replay a report",
    )
    parser.add_argument(
        "--kinds",
        help="comma-separated fault kinds to draw from (default all); --list-kinds shows them",
    )
    parser.add_argument("--list-kinds", action="store_true", help="list the fault kinds")
    parser.add_argument("--quiet", action="store_true", help="no progress line per 50 schedules")
    args = parser.parse_args(argv)

    _env.prepare(own_airflow_home=True)
    from soak.faults import ALL_KINDS
    from soak.run import run_soak

    if args.list_kinds:
        print("\n".join(ALL_KINDS))
        return 0
    try:
        only = [int(n) for item in args.only or () for n in item.split(",") if n.strip()]
    except ValueError:
        parser.error(f"--only takes schedule numbers, got {args.only}")
    kinds = tuple(k.strip() for k in args.kinds.split(",")) if args.kinds else ALL_KINDS
    unknown = sorted(set(kinds) - set(ALL_KINDS))
    if unknown:
        parser.error(f"unknown fault kind(s) {unknown}; one of {', '.join(ALL_KINDS)}")

    done = 0

    def progress(result) -> None:  # type: ignore[no-untyped-def]
        nonlocal done
        done += 1
        if args.quiet:
            return
        if done % 50 == 0 or result.problems:
            found = f", {len(result.problems)} problem(s)" if result.problems else ""
            print(f"  schedule {result.number}{found}", file=sys.stderr, flush=True)

    report = run_soak(
        schedules=args.schedules, seed=args.seed, only=only, kinds=kinds, progress=progress
    )
    print(report.render())
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
