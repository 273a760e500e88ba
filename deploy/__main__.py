"""``python -m deploy up|status|stop``: the production profile (``make airflow``)."""

from __future__ import annotations

import argparse
import sys

from deploy.cluster import WaitTimeout
from deploy.profile import Profile, ProfileError, reset, status, stop, summary, up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy",
        description="A real Airflow (CeleryExecutor, PostgreSQL, Redis) running this package.",
    )
    parser.add_argument("command", choices=("up", "status", "stop", "reset"))
    args = parser.parse_args(argv)
    profile = Profile()
    if args.command == "up":
        if any(state == "running" for state in status(profile).values()):
            print("Already running (make airflow-status); make airflow-stop first.")
            return 1
        try:
            up(profile)
        except (ProfileError, WaitTimeout, AssertionError) as exc:
            print(f"\nmake airflow failed: {exc}", file=sys.stderr)
            print(f"Component logs: {profile.home / 'component-logs'}", file=sys.stderr)
            stop(profile)
            return 1
        print(summary(profile))
        return 0
    if args.command == "status":
        found = status(profile)
        if not found:
            print("Nothing started (make airflow).")
        for name, state in found.items():
            print(f"{name:16} {state}")
        return 0
    for name, outcome in stop(profile).items():
        print(f"{name:16} {outcome}")
    if args.command == "reset":
        for line in reset(profile):
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
