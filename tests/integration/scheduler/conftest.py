"""Real Airflow with a running scheduler: a fresh PostgreSQL metadata DB, LocalExecutor, the
api-server (with the execution API), scheduler and dag-processor as subprocesses, against the
local Intacct gateway and the local Divvy API (served from this process, over real HTTP).

The fixture ``scheduler_world`` yields once the DAG is parsed, the pools exist and the DAG is
unpaused; it stops every component and drops both databases afterwards, failure or not.
``start_scheduler_world(settings=..., dag_ids=..., more_divvy=...)`` is the same world with
other settings (several Divvy accounts: their own Divvy APIs and connections, their DAGs).
When a test fails, its report gets the tails of the component logs and of the failed tasks'
logs.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest

from deploy.cluster import (
    DAG_ID,
    ROOT,
    AirflowCluster,
    database_url,
    free_port,
    postgres_database,
    wait_until,
)
from sandbox.divvy_api.generator import generate_week
from sandbox.divvy_api.testing import running_divvy
from sandbox.intacct_gateway.testing import (
    DEFAULT_SENDER_PASSWORD,
    DEFAULT_USER_PASSWORD,
    default_connection,
    running_gateway,
)

# The generated week (as `make demo`): ~480 Divvy records over Nov 16-22 (UTC days).
WEEK_START = date(2026, 11, 16)
WEEK_DAYS = 7
PER_DAY = 40
GENERATOR_SEED = 7
TIMEZONE = "America/Chicago"
# Divvy's 60 calls per rolling window, with a 1 s window on both the API and the hook (as the
# demo does): the limit is still enforced on both sides, without minutes of waiting.
RATE_WINDOW_SECONDS = 1.0

CLUSTER_KEY = pytest.StashKey["AirflowCluster"]()


WEEK_DAYS_LIST = [WEEK_START + timedelta(days=n) for n in range(WEEK_DAYS)]


@contextlib.contextmanager
def week_services(
    postgres_dsn: str, *, days: int = WEEK_DAYS, per_day: int = PER_DAY
) -> Iterator[tuple[Any, Any, str, str]]:
    """What every running-Airflow test runs against: the local Intacct gateway, the local Divvy
    API serving the generated week (Divvy's rate limit with a 1 s window), and two new
    PostgreSQL databases (metadata, ledger), all gone afterwards. ``days``/``per_day``: a
    smaller generated set from the same start, for a test that needs less."""
    week = generate_week(WEEK_START, days, seed=GENERATOR_SEED, per_day=per_day)
    with (
        running_gateway() as gw,
        running_divvy(
            week, calls_per_minute=60, window_seconds=RATE_WINDOW_SECONDS, retry_after=True
        ) as dv,
        postgres_database(postgres_dsn, "airflow") as metadata_db,
        postgres_database(postgres_dsn, "ledger") as ledger_db,
    ):
        yield gw, dv, metadata_db, ledger_db


@dataclass
class SchedulerWorld:
    cluster: AirflowCluster
    gw: Any  # sandbox.intacct_gateway.testing.GatewayHandle
    dv: Any  # sandbox.divvy_api.testing.DivvyHandle
    ledger_dsn: str  # the PostgreSQL ledger (libpq form)
    days: list[date]  # the local days the backfill runs for
    timezone: str = TIMEZONE
    # More Divvy APIs, by the connection id the components reach them through (accounts).
    more_dv: dict[str, Any] = field(default_factory=dict)


def _component_env(
    *,
    home: Any,
    metadata_url: str,
    api_port: int,
    jwt_secret: str,
    api_secret_key: str,
    gw_url: str,
    dv_url: str,
    dv_token: str,
    ledger_db: str,
    server: dict[str, Any],
    settings: dict[str, Any] | None = None,
    connections: dict[str, dict[str, Any]] | None = None,
) -> dict[str, str]:
    # Nothing Airflow-related leaks in from the test session (its own AIRFLOW_HOME, ...).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DIVVY_INTACCT_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            # This work tree's code first (the venv may hold another checkout's editable install).
            "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT)]),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "6",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": api_secret_key,
            "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
            # Only the backfill's runs: the timetable must not add a run for "yesterday" by the
            # machine's clock (catchup=False would otherwise create one on unpausing).
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            # The DAG's schedule and the settings' time zone, pinned: the expected days below
            # depend on them, never on the machine's time zone.
            "DIVVY_INTACCT_SCHEDULE_HOUR": "6",
            "DIVVY_INTACCT_TIMEZONE": TIMEZONE,
            # An unexpected task error fails its run now instead of after minutes of retry delay.
            "DIVVY_INTACCT_TASK_RETRIES": "0",
            "INTACCT_XSD_PATH": os.environ.get("INTACCT_XSD_PATH", ""),
            "AIRFLOW_CONN_INTACCT_DEFAULT": json.dumps(default_connection(gw_url, timeout=30)),
            "AIRFLOW_CONN_DIVVY_DEFAULT": json.dumps(divvy_connection(dv_url, dv_token)),
            "AIRFLOW_CONN_LEDGER_PG": json.dumps(
                {
                    "conn_type": "postgres",
                    "host": server.get("host", "127.0.0.1"),
                    "port": int(server.get("port", 5432)),
                    "login": server.get("user", "postgres"),
                    "password": server.get("password"),
                    "schema": ledger_db,
                }
            ),
            "AIRFLOW_VAR_DIVVY_INTACCT_SETTINGS": json.dumps(
                {
                    "ledger_conn_id": "ledger_pg",
                    "mapping_file": str(ROOT / "include/mapping_rules.csv"),
                    "timezone": TIMEZONE,
                    **(settings or {}),
                }
            ),
        }
    )
    for conn_id, connection in (connections or {}).items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(connection)
    return {k: v for k, v in env.items() if v != ""}


def _own_token(seed: dict[str, Any], conn_id: str) -> dict[str, Any]:
    """Another Divvy account's data: its own API token (preflight refuses two accounts reading
    one Divvy account)."""
    seed["tokens"] = [dict(t, token=f"{t['token']}-{conn_id}") for t in seed.get("tokens", [])]
    return seed


def divvy_connection(url: str, token: str) -> dict[str, Any]:
    """The components' Airflow connection to a local Divvy API (``divvy_default`` and each
    account's)."""
    return {
        "conn_type": "divvy",
        "host": url,
        "password": token,
        "extra": {
            "timeout": 30,
            "rate_limit_window": RATE_WINDOW_SECONDS,
            "receipts_allow_loopback": True,  # sandbox receipt files on localhost
        },
    }


@pytest.fixture
def scheduler_world(request, tmp_path, postgres_dsn) -> Iterator[SchedulerWorld]:
    with running_scheduler_world(request, tmp_path, postgres_dsn) as world:
        yield world


@pytest.fixture
def start_scheduler_world(request, tmp_path, postgres_dsn):
    """``start_scheduler_world(settings=..., dag_ids=..., more_divvy=..., ...)``: the context
    manager below, for this test."""
    return functools.partial(running_scheduler_world, request, tmp_path, postgres_dsn)


@contextlib.contextmanager
def running_scheduler_world(
    request,
    tmp_path,
    postgres_dsn,
    *,
    settings: dict[str, Any] | None = None,
    dag_ids: Sequence[str] = (DAG_ID,),
    unpause: Sequence[str] | None = None,
    days: int = WEEK_DAYS,
    per_day: int = PER_DAY,
    more_divvy: Mapping[str, Mapping[str, int]] | None = None,
) -> Iterator[SchedulerWorld]:
    """The running deployment: ``settings`` are merged into the settings Variable,
    ``dag_ids`` are the DAGs the DAG files must build (waited for), ``unpause`` those unpaused
    (default: all of them); ``days``/``per_day`` size the generated Divvy data
    (``divvy_default``'s). ``more_divvy``: ``{conn_id: {"seed": n, "per_day": n}}``, a local
    Divvy API each (the same days, another generated set, the same rate limit) reached through
    that Airflow connection, as another Divvy account's."""
    import psycopg

    server = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    week_days = WEEK_DAYS_LIST[:days]
    api_port = free_port()
    jwt_secret, api_secret_key = secrets.token_hex(32), secrets.token_hex(16)
    with (
        week_services(postgres_dsn, days=days, per_day=per_day) as (
            gw,
            dv,
            metadata_db,
            ledger_db,
        ),
        contextlib.ExitStack() as stack,
    ):
        more_dv = {
            conn_id: stack.enter_context(
                running_divvy(
                    _own_token(
                        generate_week(WEEK_START, days, seed=data["seed"], per_day=data["per_day"]),
                        conn_id,
                    ),
                    calls_per_minute=60,
                    window_seconds=RATE_WINDOW_SECONDS,
                    retry_after=True,
                )
            )
            for conn_id, data in (more_divvy or {}).items()
        }
        home = tmp_path / "airflow_home"
        home.mkdir()
        env = _component_env(
            home=home,
            metadata_url=database_url(postgres_dsn, metadata_db, "psycopg2"),
            api_port=api_port,
            jwt_secret=jwt_secret,
            api_secret_key=api_secret_key,
            gw_url=gw.url,
            dv_url=dv.url,
            dv_token=dv.token,
            ledger_db=ledger_db,
            server=server,
            settings=settings,
            connections={
                conn_id: divvy_connection(handle.url, handle.token)
                for conn_id, handle in more_dv.items()
            },
        )
        cluster = AirflowCluster(
            home=home,
            metadata_dsn=database_url(postgres_dsn, metadata_db),
            env=env,
            api_port=api_port,
            secrets=[
                DEFAULT_USER_PASSWORD,
                DEFAULT_SENDER_PASSWORD,
                dv.token,
                jwt_secret,
                api_secret_key,
                server.get("password") or "",
                *(handle.token for handle in more_dv.values()),
            ],
        )
        request.node.stash[CLUSTER_KEY] = cluster
        try:
            _bring_up(cluster, dag_ids, dag_ids if unpause is None else unpause)
            yield SchedulerWorld(
                cluster=cluster,
                gw=gw,
                dv=dv,
                ledger_dsn=database_url(postgres_dsn, ledger_db),
                days=list(week_days),
                more_dv=more_dv,
            )
        finally:
            cluster.stop()


def _bring_up(
    cluster: AirflowCluster,
    dag_ids: Sequence[str] = (DAG_ID,),
    unpause: Sequence[str] = (DAG_ID,),
) -> None:
    step = time.monotonic()

    def took(what: str) -> None:
        nonlocal step
        now = time.monotonic()
        cluster.timings[what] = now - step
        step = now

    imported = cluster_python(cluster, "import intacct_hook; print(intacct_hook.__file__)")
    assert imported.startswith(str(ROOT / "plugins")), f"components would import {imported}"
    cluster.cli("db", "migrate", timeout=600)
    took("db migrate")
    cluster.cli("pools", "set", "intacct_api", "1", "Intacct XML API")
    cluster.cli("pools", "set", "divvy_api", "1", "Divvy API")
    took("pools")
    cluster.start(
        "api-server", "api-server", "--host", "127.0.0.1", "--port", str(cluster.api_port)
    )
    cluster.start("scheduler", "scheduler")
    cluster.start("dag-processor", "dag-processor")
    wait_until(
        lambda: cluster.http_ok("/execution/health"),
        timeout=180,
        what="the api-server's execution API",
        check=cluster.check_alive,
    )
    wait_until(
        lambda: cluster.healthy("metadatabase", "scheduler", "dag_processor"),
        timeout=180,
        what="metadatabase, scheduler and dag_processor healthy (/api/v2/monitor/health)",
        check=cluster.check_alive,
    )
    took("components healthy")

    def dags_parsed() -> bool:
        errors = cluster.query("SELECT filename, stacktrace FROM import_error")
        if errors:
            raise AssertionError(f"the DAG folder does not import: {errors}")
        found = cluster.query(
            "SELECT DISTINCT dag_id FROM serialized_dag WHERE dag_id = ANY(%s)", [list(dag_ids)]
        )
        return len(found) == len(dag_ids)

    wait_until(
        dags_parsed,
        timeout=180,
        what=f"{', '.join(dag_ids)} serialized",
        check=cluster.check_alive,
    )
    for dag_id in unpause:
        cluster.cli("dags", "unpause", dag_id)
    took("DAG parsed and unpaused" if len(dag_ids) == 1 else "DAGs parsed and unpaused")


def cluster_python(cluster: AirflowCluster, code: str) -> str:
    import subprocess

    done = subprocess.run(
        [str(cluster.python), "-c", code],
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    cluster = item.stash.get(CLUSTER_KEY, None)
    if cluster is not None and report.failed and report.when in ("setup", "call"):
        report.sections.append(("Airflow components (log tails)", cluster.log_tails()))
        try:
            # Every DAG's: a test of several accounts runs several DAGs.
            failed = cluster.query(
                "SELECT dag_id, run_id, task_id, try_number FROM task_instance "
                "WHERE state = 'failed' ORDER BY dag_id, run_id, task_id"
            )
        except Exception as exc:  # the DB may be gone when set-up failed
            failed, note = [], f"(failed tasks not listed: {exc})"
        else:
            note = "" if failed else "(no failed task instances)"
        report.sections.append(
            ("Failed tasks' logs (tails)", cluster.task_log_tails(failed) or note)
        )
    return report


# --- the production profile (make airflow), for the deployment and browser tests ---------------


@dataclass
class DeploymentWorld:
    cluster: AirflowCluster
    profile: Any  # deploy.profile.Profile
    gw: Any
    dv: Any
    ledger_dsn: str
    days: list[date]
    timezone: str = TIMEZONE


def redis_or_skip(url: str) -> None:
    """Redis answers at ``url``, or a visible skip (a failure when CI requires it)."""
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=3).ping()
    except redis.RedisError as exc:
        message = f"Redis not reachable at {url}: {exc}"
        if os.environ.get("DIVVY_INTACCT_REQUIRE_REDIS") == "1":
            pytest.fail(message)
        pytest.skip(message)


@contextlib.contextmanager
def running_profile(
    request, tmp_path, postgres_dsn, *, connections: tuple[str, ...]
) -> Iterator[DeploymentWorld]:
    """The production profile (deploy.profile, as `make airflow` runs it: the wheel in a
    virtualenv of its own, CeleryExecutor with Redis, PostgreSQL metadata DB and ledger) on
    free ports, fresh databases, a Redis database and queue of its own, against the local
    sandboxes served from this process. Everything it started is stopped afterwards."""
    from deploy import profile as deployment

    redis_url = "redis://127.0.0.1:6379/11"  # not make airflow's (0)
    redis_or_skip(redis_url)
    days = list(WEEK_DAYS_LIST)
    with week_services(postgres_dsn) as (gw, dv, metadata_db, ledger_db):
        profile = deployment.Profile(
            home=tmp_path / "airflow",
            api_port=free_port(),
            metadata_db=metadata_db,
            ledger_db=ledger_db,
            postgres=postgres_dsn,
            redis=redis_url,
            celery_queue=f"divvy_intacct_test_{secrets.token_hex(4)}",
            timezone=TIMEZONE,
            intacct_url=gw.url,
            divvy_url=dv.url,
            divvy_token=dv.token,
            connections=connections,
            use_job_schedule=False,
            task_retries=0,
            log_server_ports=(free_port(), free_port()),
        )
        cluster = deployment.prepare(profile)
        cluster.secrets = [*cluster.secrets, DEFAULT_USER_PASSWORD, DEFAULT_SENDER_PASSWORD]
        cluster.secrets.append(dv.token)
        request.node.stash[CLUSTER_KEY] = cluster
        try:
            deployment.start(profile, cluster)
            installed = cluster_python(cluster, "import intacct_hook; print(intacct_hook.__file__)")
            assert installed.startswith(str(profile.venv)), f"components import {installed}"
            yield DeploymentWorld(
                cluster=cluster,
                profile=profile,
                gw=gw,
                dv=dv,
                ledger_dsn=database_url(postgres_dsn, ledger_db),
                days=days,
            )
        finally:
            cluster.stop()


@pytest.fixture
def start_profile(request, tmp_path, postgres_dsn):
    """``start_profile(connections=...)``: the context manager above, for this test."""
    return functools.partial(running_profile, request, tmp_path, postgres_dsn)


@pytest.fixture
def deployment_world(request, tmp_path, postgres_dsn) -> Iterator[DeploymentWorld]:
    with running_profile(
        request,
        tmp_path,
        postgres_dsn,
        connections=("intacct_default", "divvy_default", "ledger_pg"),
    ) as world:
        world.cluster.cli("dags", "unpause", DAG_ID)
        yield world
