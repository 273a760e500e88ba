"""Smoke test of `make demo` on a small week: it runs, and its second pass posts nothing new."""

from __future__ import annotations

import io

import pytest

from demo.__main__ import main

# The demo configures Airflow through the environment; restore it for the tests that follow.
DEMO_ENV = (
    "AIRFLOW_CONN_INTACCT_DEFAULT",
    "AIRFLOW_CONN_DIVVY_DEFAULT",
    "AIRFLOW_VAR_DIVVY_INTACCT_SETTINGS",
    "DIVVY_INTACCT_TASK_RETRIES",
)


@pytest.mark.airflow
def test_demo_small_week_posts_nothing_new_on_second_pass(airflow_db, tmp_path, monkeypatch):
    for key in DEMO_ENV:
        monkeypatch.setenv(key, "")
    out = io.StringIO()

    code = main(["--days", "2", "--per-day", "8", "--var-dir", str(tmp_path / "demo")], out=out)

    text = out.getvalue()
    assert code == 0, text
    assert "nothing new was posted" in text, text
    assert "Second pass: 0 posted" in text, text
    # Closed periods: the late purchase of the closed first day posts on the next day, once.
    assert "dated 11/17/2026: Purchased 11/16/2026 (closed period)" in text, text
    assert "the rerun posted 0" in text, text
    # Re-coding: a posted purchase re-coded in Divvy is reversed and re-posted, once.
    assert "GL account" in text and "→ 6200" in text, text
    assert "Reconcile matched: True; chain records net 0.00; the rerun re-posted 0" in text, text
    assert "PROBLEM" not in text and "FAILED" not in text, text
    # Secrets of the sandboxes never reach the printed summary.
    for secret in ("ws-user-pass-0001", "sender-pass-0001", "divvy-token-0001"):
        assert secret not in text
    # Under pytest Airflow's loggers write to pytest's capture, so the log file may be empty.
    assert (tmp_path / "demo" / "airflow.log").exists()

    # `make demo` twice on one machine: the second run meets the first's DAG runs in the same
    # Airflow metadata DB (each run must replace, not collide with, its earlier namesake).
    again = io.StringIO()
    code = main(["--days", "2", "--per-day", "8", "--var-dir", str(tmp_path / "again")], out=again)
    assert code == 0, again.getvalue()
