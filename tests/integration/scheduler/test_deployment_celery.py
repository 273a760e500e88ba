"""Issue 8: the production profile (`make airflow`: the wheel installed in a virtualenv of its
own, CeleryExecutor with a Redis broker and a Celery worker, PostgreSQL metadata DB and ledger,
api-server, scheduler, dag-processor and triggerer) runs backfills created the two ways an
operator creates them, several runs at once, and every transaction is posted once and every
day reconciled (checks: backfill_checks.py).

The first four days are backfilled through the REST API (as the UI's dialog does), the last
three with `airflow backfill create`, both naming the days as the README says (dates, no
times).
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from backfill_checks import assert_no_problems, verify_backfill, wait_for_backfill_runs

from deploy.cluster import DAG_ID, wait_until

pytestmark = [pytest.mark.deployment, pytest.mark.postgres]

MAX_ACTIVE_RUNS = 3
REST_DAYS = 4


def test_rest_and_cli_backfills_on_celery_post_each_once_and_reconcile(deployment_world):
    w = deployment_world
    cluster = w.cluster
    rest_days, cli_days = w.days[:REST_DAYS], w.days[REST_DAYS:]
    started = time.monotonic()

    token = api_token(w.profile)
    backfill = api(
        w.profile,
        "POST",
        "/api/v2/backfills",
        token,
        {
            "dag_id": DAG_ID,
            "from_date": f"{rest_days[0].isoformat()}T00:00:00Z",
            "to_date": f"{rest_days[-1].isoformat()}T00:00:00Z",
            "max_active_runs": MAX_ACTIVE_RUNS,
            "reprocess_behavior": "none",
            "run_backwards": False,
            "dag_run_conf": {},
        },
    )
    assert backfill["dag_id"] == DAG_ID, backfill
    most_running = wait_for_backfill_runs(cluster, len(rest_days))
    # One backfill per DAG at a time: the CLI's is refused until the scheduler has marked the
    # first one completed, a loop or two after its last run finished.
    wait_until(
        lambda: api(w.profile, "GET", f"/api/v2/backfills/{backfill['id']}", token)["completed_at"],
        timeout=120,
        what="the REST backfill to be marked completed",
        check=cluster.check_alive,
    )

    cluster.cli(
        *("backfill", "create", "--dag-id", DAG_ID),
        *("--from-date", cli_days[0].isoformat(), "--to-date", cli_days[-1].isoformat()),
        *("--max-active-runs", str(MAX_ACTIVE_RUNS)),
    )
    most_running = max(most_running, wait_for_backfill_runs(cluster, len(w.days)))

    problems, report = verify_backfill(
        cluster=cluster,
        gw=w.gw,
        dv=w.dv,
        ledger_dsn=w.ledger_dsn,
        days=w.days,
        zone=ZoneInfo(w.timezone),
        max_active_runs=MAX_ACTIVE_RUNS,
        most_running_seen=most_running,
        backfill_seconds=time.monotonic() - started,
    )
    # Every task ran on the Celery worker, from the queue the profile set.
    hosts = cluster.query(
        "SELECT DISTINCT queue, executor FROM task_instance WHERE dag_id = %s", [DAG_ID]
    )
    if [(h["queue"]) for h in hosts] != [w.profile.celery_queue]:
        problems.append(f"tasks ran from queues {hosts}, expected {w.profile.celery_queue!r}")
    worker_log = cluster.components["celery-worker"].log.read_text(errors="replace")
    if "execute_workload" not in worker_log:
        problems.append("the Celery worker's log shows no task it executed")
    assert_no_problems(problems, report)
    assert rest_days[-1] + timedelta(days=1) == cli_days[0]


def api_token(profile) -> str:
    """Sign in as the admin (the password Airflow generated into the profile's home)."""
    password = json.loads(profile.password_file.read_text())["admin"]
    body = api(profile, "POST", "/auth/token", None, {"username": "admin", "password": password})
    return body["access_token"]


def api(profile, method: str, path: str, token: str | None, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        profile.api_url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{method} {path}: HTTP {exc.code} {exc.read()[:2000]!r}") from exc
