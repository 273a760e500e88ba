"""The documented command starts a server that answers (a real subprocess)."""

from __future__ import annotations

import re
import subprocess
import sys

import requests


def test_cli_generates_a_week_and_serves_it() -> None:
    process = subprocess.Popen(
        [
            sys.executable, "-m", "sandbox.divvy_api", "--port", "0",
            "--generate-week", "2026-11-16", "--seed-number", "7", "--days", "2",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"on (http://\S+/connect)", line)
        assert match, line
        response = requests.get(
            f"{match.group(1)}/v3/spend/transactions",
            headers={"apiToken": "divvy-token-0001"},
            params={"max": 50},
            timeout=5,
        )
        assert response.status_code == 200 and len(response.json()["results"]) == 50
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_cli_dump_is_deterministic() -> None:
    args = [sys.executable, "-m", "sandbox.divvy_api", "--generate-week", "2026-11-16", "--dump"]
    first = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    second = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    assert first == second and '"txr_' in first
