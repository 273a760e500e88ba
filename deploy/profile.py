"""The production profile on one machine: ``make airflow``.

A real Airflow 3.3 as a finance team would run it, from the package's wheel:

- metadata DB and sync ledger on PostgreSQL (two databases of the server at 127.0.0.1:5432);
- CeleryExecutor with its broker on Redis (127.0.0.1:6379) and one Celery worker; Celery's
  results in the metadata DB;
- api-server (UI, REST API, execution API), scheduler, dag-processor, triggerer, worker, each a
  process of its own; the package installed from its wheel into a virtualenv that holds no
  source tree, the DAG file copied into a DAGs folder of its own, no plugins folder (the package
  registers its plugin through its entry point);
- the pools, connections and settings Variable the DAG needs, created when missing (what an
  operator set by hand is never replaced);
- by default the local Intacct gateway and Divvy API (a generated week, Nov 16-22 2026) as the
  two services; point the connections at the real ones to use those instead.

Each step is a function below, in the order ``up`` runs them; the README's "Deployment" section
is this list, in an operator's words. ``status`` and ``stop`` work from the process IDs that
``up`` recorded.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pathlib
import secrets
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from deploy.cluster import (
    DAG_ID,
    ROOT,
    AirflowCluster,
    is_running,
    recorded_components,
    stop_recorded,
    wait_until,
)
from deploy.wheel import build_wheel, virtualenv_with_wheel

PREVIEW_DAG_ID = "divvy_intacct_preview"
DIMENSIONS_DAG_ID = "divvy_intacct_dimensions"
DAG_IDS = (DAG_ID, PREVIEW_DAG_ID, DIMENSIONS_DAG_ID)
DEFAULT_HOME = ROOT / "var" / "airflow"
# The generated week the local Divvy API serves (as `make demo`): Nov 16-22, 2026.
SANDBOX_WEEK = date(2026, 11, 16)
SANDBOX_DAYS = 7
SANDBOX_PER_DAY = 40
SANDBOX_SEED_NUMBER = 7
# Divvy's 60 calls per window, with a 1 s window on both sides: the limit is enforced by the
# local API and respected by the hook, without minutes of waiting in a demonstration.
SANDBOX_RATE_WINDOW_SECONDS = 1.0
POOLS = {
    # One Intacct API job at a time (the subscription's default): what must stay single.
    "intacct_api": (1, "Intacct XML API: one request at a time per sender and company"),
    "divvy_api": (1, "Divvy API: 60 calls per minute per token"),
}


class ProfileError(RuntimeError):
    """A prerequisite is missing or a component did not come up; the message says what to do."""


@dataclass
class Profile:
    """Where and how the profile runs. The defaults are ``make airflow``'s; the deployment
    tests use a temporary home, free ports and databases of their own."""

    home: pathlib.Path = DEFAULT_HOME
    api_port: int = 8080
    metadata_db: str = "divvy_intacct_airflow"
    ledger_db: str = "divvy_intacct_ledger"
    # The PostgreSQL server (libpq URL of any database on it, used to create the two above).
    postgres: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    redis: str = "redis://127.0.0.1:6379/0"
    celery_queue: str = "default"
    worker_concurrency: int = 4
    timezone: str = "America/Chicago"
    # The two services: None starts the local sandbox on the port given.
    intacct_url: str | None = None
    divvy_url: str | None = None
    divvy_token: str | None = None
    intacct_sandbox_port: int = 8081
    divvy_sandbox_port: int = 8082
    # Connections made here when missing; the browser test leaves intacct_default to the form.
    connections: Sequence[str] = ("intacct_default", "divvy_default", "ledger_pg")
    # False: only runs someone asks for (tests); True: the schedule too (make airflow).
    use_job_schedule: bool = True
    task_retries: int | None = None  # None: the DAG's default
    log_server_ports: tuple[int, int] = (8793, 8794)  # worker's, triggerer's
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def venv(self) -> pathlib.Path:
        return self.home / "venv"

    @property
    def password_file(self) -> pathlib.Path:
        return self.home / "simple_auth_manager_passwords.json.generated"


# --- up ----------------------------------------------------------------------------------------


def up(profile: Profile, *, out: Any = sys.stdout) -> AirflowCluster:
    """Every step, in order; returns once the DAGs are parsed and every component is healthy.
    On failure, what it started is stopped again."""
    cluster = prepare(profile, out=out)
    try:
        start(profile, cluster, out=out)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def prepare(profile: Profile, *, out: Any = sys.stdout) -> AirflowCluster:
    """Everything before the Airflow components start: services checked, wheel installed,
    databases, metadata DB migrated, sandboxes started, pools, connections and settings."""
    say = _printer(out)
    say("Checking PostgreSQL and Redis …")
    check_services(profile)
    say("Building the wheel and installing it into a virtualenv of its own …")
    python = install_wheel(profile)
    say(f"Creating the databases {profile.metadata_db} and {profile.ledger_db} when missing …")
    create_databases(profile)
    cluster = cluster_for(profile, python)
    layout_home(profile)
    say("Migrating the metadata DB (airflow db migrate) …")
    cluster.cli("db", "migrate", timeout=600)
    try:
        start_sandboxes(profile, cluster, say)
        say("Creating pools, connections and the settings Variable when missing …")
        create_pools(cluster)
        create_connections(profile, cluster)
        create_settings_variable(profile, cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def start(profile: Profile, cluster: AirflowCluster, *, out: Any = sys.stdout) -> None:
    say = _printer(out)
    say("Starting api-server, scheduler, dag-processor, triggerer and a Celery worker …")
    start_components(profile, cluster)
    wait_ready(profile, cluster)
    say("All components are healthy and both DAGs are parsed.")


def check_services(profile: Profile) -> None:
    import psycopg
    import redis

    try:
        with psycopg.connect(profile.postgres, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise ProfileError(
            f"PostgreSQL does not answer at {_without_password(profile.postgres)}: {exc}. "
            "Start it (on Debian: pg_ctlcluster <version> main start)."
        ) from exc
    try:
        redis.Redis.from_url(profile.redis, socket_timeout=5).ping()
    except redis.RedisError as exc:
        raise ProfileError(
            f"Redis does not answer at {profile.redis}: {exc}. Start it (redis-server)."
        ) from exc
    busy = [p for p in _ports(profile) if _port_taken(p)]
    if busy:
        raise ProfileError(
            f"port(s) {busy} are in use: another `make airflow` (make airflow-status) or "
            "another program. Stop it, or set other ports."
        )


def install_wheel(profile: Profile) -> pathlib.Path:
    wheel = build_wheel(profile.home / "dist")
    return virtualenv_with_wheel(profile.venv, wheel)


def create_databases(profile: Profile) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(profile.postgres, autocommit=True, connect_timeout=5) as conn:
        for name in (profile.metadata_db, profile.ledger_db):
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def layout_home(profile: Profile) -> None:
    """The DAG files in a DAGs folder of the deployment's own, the accountants' mapping rules
    beside it, an empty plugins folder: nothing is read from this checkout at run time."""
    for folder in ("dags", "plugins", "include"):
        (profile.home / folder).mkdir(parents=True, exist_ok=True)
    for dag_file in sorted((ROOT / "dags").glob("*.py")):
        shutil.copy2(dag_file, profile.home / "dags")
    rules = profile.home / "include" / "mapping_rules.csv"
    if not rules.exists():  # the accountants' file: edited in place, never overwritten
        shutil.copy2(ROOT / "include" / "mapping_rules.csv", rules)


def cluster_for(profile: Profile, python: pathlib.Path) -> AirflowCluster:
    api_secret_key, jwt_secret = _api_secrets(profile.home)
    info = _conninfo(profile.postgres)
    metadata_url = _postgres_url(info, profile.metadata_db, "postgresql+psycopg2")
    worker_log_port, triggerer_log_port = profile.log_server_ports
    home = profile.home
    # Nothing Airflow-related leaks in from the caller (its own AIRFLOW_HOME, ...).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "DIVVY_INTACCT_", "PYTHON", "VIRTUAL_ENV"))
    }
    env |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # The connection test (CLI and REST; the UI's button, see the README) runs hooks' code.
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
        "AIRFLOW__CELERY__BROKER_URL": profile.redis,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(profile.worker_concurrency),
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": profile.celery_queue,
        # Workers reach the API server, never the metadata DB.
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{profile.api_url}/execution/",
        "AIRFLOW__API__BASE_URL": profile.api_url,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(profile.api_port),
        "AIRFLOW__API__SECRET_KEY": api_secret_key,
        "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker_log_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(triggerer_log_port),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(profile.use_job_schedule),
        # The schedule's zone, for the DAG file (the settings Variable holds the same).
        "DIVVY_INTACCT_TIMEZONE": profile.timezone,
    }
    if profile.task_retries is not None:
        env["DIVVY_INTACCT_TASK_RETRIES"] = str(profile.task_retries)
    env |= profile.extra_env
    return AirflowCluster(
        home=home,
        metadata_dsn=_postgres_url(info, profile.metadata_db, "postgresql"),
        env=env,
        api_port=profile.api_port,
        secrets=[api_secret_key, jwt_secret, *([info["password"]] if info.get("password") else [])],
        python=python,
    )


def start_sandboxes(profile: Profile, cluster: AirflowCluster, say: Any) -> None:
    """The local Intacct gateway and Divvy API, as processes of the deployment, for the
    services whose URL the profile was not given."""
    if profile.intacct_url is None:
        port = profile.intacct_sandbox_port
        cluster.start_command(
            "intacct-sandbox",
            [sys.executable, "-m", "sandbox.intacct_gateway", "--port", str(port)],
            cwd=ROOT,
        )
        profile.intacct_url = f"http://127.0.0.1:{port}/ia/xml/xmlgw.phtml"
        say(f"  local Intacct gateway: {profile.intacct_url}")
    if profile.divvy_url is None:
        from sandbox.divvy_api.generator import generate_week

        port = profile.divvy_sandbox_port
        week = generate_week(
            SANDBOX_WEEK, SANDBOX_DAYS, seed=SANDBOX_SEED_NUMBER, per_day=SANDBOX_PER_DAY
        )
        cluster.start_command(
            "divvy-sandbox",
            [
                *(sys.executable, "-m", "sandbox.divvy_api", "--port", str(port)),
                *("--generate-week", SANDBOX_WEEK.isoformat(), "--days", str(SANDBOX_DAYS)),
                *("--per-day", str(SANDBOX_PER_DAY), "--seed-number", str(SANDBOX_SEED_NUMBER)),
                *("--window-seconds", str(SANDBOX_RATE_WINDOW_SECONDS)),
            ],
            cwd=ROOT,
        )
        profile.divvy_url = f"http://127.0.0.1:{port}/connect"
        # The generated company's API token (the same seed, so the same token).
        profile.divvy_token = week["tokens"][0]["token"]
        say(f"  local Divvy API: {profile.divvy_url} (week of {SANDBOX_WEEK:%b %d, %Y})")
    for name in ("intacct-sandbox", "divvy-sandbox"):
        if name in cluster.components:
            wait_until(
                functools.partial(_listening, cluster.components[name].log),
                timeout=60,
                what=f"the {name} to listen",
                check=cluster.check_alive,
            )


def _listening(log: pathlib.Path) -> bool:
    return "on http://" in log.read_text()


def create_pools(cluster: AirflowCluster) -> None:
    existing = {p["pool"] for p in json.loads(cluster.cli("pools", "list", "-o", "json"))}
    for name, (slots, description) in POOLS.items():
        if name not in existing:
            cluster.cli("pools", "set", name, str(slots), description)


def create_connections(profile: Profile, cluster: AirflowCluster) -> None:
    """The connections the DAG uses, when missing, imported from a file readable only by this
    user (a connection on the command line would show its password to `ps`)."""
    wanted = _connections(profile)
    existing = {c["conn_id"] for c in json.loads(cluster.cli("connections", "list", "-o", "json"))}
    missing = {k: v for k, v in wanted.items() if k not in existing}
    if not missing:
        return
    with _private_file(profile.home, json.dumps(missing)) as path:
        cluster.cli("connections", "import", str(path))


def create_settings_variable(profile: Profile, cluster: AirflowCluster) -> None:
    names = {v["key"] for v in json.loads(cluster.cli("variables", "list", "-o", "json"))}
    if "divvy_intacct_settings" in names:
        return
    settings = {
        "ledger_conn_id": "ledger_pg",
        "mapping_file": str(profile.home / "include" / "mapping_rules.csv"),
        "timezone": profile.timezone,
    }
    cluster.cli(
        "variables",
        "set",
        "divvy_intacct_settings",
        json.dumps(settings, indent=1),
        "--description",
        "divvy-intacct settings (README: Settings)",
    )


def start_components(profile: Profile, cluster: AirflowCluster) -> None:
    cluster.start(
        "api-server", "api-server", "--host", "127.0.0.1", "--port", str(profile.api_port)
    )
    cluster.start("scheduler", "scheduler")
    cluster.start("dag-processor", "dag-processor")
    cluster.start("triggerer", "triggerer")
    cluster.start(
        "celery-worker",
        *("celery", "worker", "--queues", profile.celery_queue),
        *("--concurrency", str(profile.worker_concurrency)),
        *("--celery-hostname", f"divvy-intacct-{profile.api_port}@%h"),
    )


def wait_ready(profile: Profile, cluster: AirflowCluster, timeout: float = 240) -> None:
    wait_until(
        lambda: cluster.healthy("metadatabase", "scheduler", "triggerer", "dag_processor"),
        timeout=timeout,
        what="metadatabase, scheduler, triggerer and dag_processor healthy "
        "(/api/v2/monitor/health)",
        check=cluster.check_alive,
    )
    wait_until(
        lambda: cluster.http_ok("/execution/health"),
        timeout=timeout,
        what="the api-server's execution API",
        check=cluster.check_alive,
    )
    wait_until(
        lambda: " ready." in cluster.components["celery-worker"].log.read_text(errors="replace"),
        timeout=timeout,
        what="the Celery worker to report ready",
        check=cluster.check_alive,
    )

    def dags_parsed() -> bool:
        errors = cluster.query("SELECT filename, stacktrace FROM import_error")
        if errors:
            raise ProfileError(f"the DAGs folder does not import: {errors}")
        found = cluster.query(
            "SELECT dag_id FROM serialized_dag WHERE dag_id = ANY(%s)", [list(DAG_IDS)]
        )
        return len(found) == len(DAG_IDS)

    wait_until(dags_parsed, timeout=timeout, what="every DAG parsed", check=cluster.check_alive)


# --- status and stop ---------------------------------------------------------------------------


def status(profile: Profile) -> dict[str, str]:
    """Each recorded component: running or not."""
    return {
        name: "running" if is_running(pid) else "not running"
        for name, pid in recorded_components(profile.home).items()
    }


def stop(profile: Profile) -> dict[str, str]:
    return stop_recorded(profile.home)


def reset(profile: Profile) -> list[str]:
    """After ``stop``: the profile's two databases dropped and its home deleted."""
    import psycopg
    from psycopg import sql

    done = []
    with psycopg.connect(profile.postgres, autocommit=True, connect_timeout=5) as conn:
        for name in (profile.metadata_db, profile.ledger_db):
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            done.append(f"dropped database {name}")
    if profile.home.exists():
        shutil.rmtree(profile.home)
        done.append(f"deleted {profile.home}")
    return done


def summary(profile: Profile) -> str:
    return "\n".join(
        [
            "",
            f"Airflow is running: {profile.api_url}",
            f"  sign in as admin; the password is in {profile.password_file}",
            f"  DAGs: {DAG_ID} (posts), {PREVIEW_DAG_ID} (writes nothing) and "
            f"{DIMENSIONS_DAG_ID} (Intacct dimensions into Divvy); all start paused",
            f"  component logs: {profile.home / 'component-logs'}",
            f"  task logs: {profile.home / 'logs'}",
            "  status: make airflow-status    stop: make airflow-stop",
        ]
    )


# --- helpers -----------------------------------------------------------------------------------


def _connections(profile: Profile) -> dict[str, dict[str, Any]]:
    from sandbox.intacct_gateway.testing import default_connection

    info = _conninfo(profile.postgres)
    every = {
        "intacct_default": {
            **default_connection(profile.intacct_url or "", timeout=30),
            "description": "Sage Intacct (local gateway: the setup guide's company)",
        },
        "divvy_default": {
            "conn_type": "divvy",
            "description": "Divvy (local API: a generated week)",
            "host": profile.divvy_url,
            "password": profile.divvy_token,
            # The local API serves receipt files on "localhost": loopback opted in.
            "extra": {
                "timeout": 30,
                "rate_limit_window": SANDBOX_RATE_WINDOW_SECONDS,
                "receipts_allow_loopback": True,
            },
        },
        "ledger_pg": {
            "conn_type": "postgres",
            "description": "The sync ledger (PostgreSQL)",
            "host": info.get("host", "127.0.0.1"),
            "port": int(info.get("port", 5432)),
            "login": info.get("user", "postgres"),
            "password": info.get("password"),
            "schema": profile.ledger_db,
        },
    }
    for conn in every.values():
        if isinstance(conn.get("extra"), dict):
            conn["extra"] = json.dumps(conn["extra"])
    return {k: {f: v for f, v in every[k].items() if v is not None} for k in profile.connections}


def _api_secrets(home: pathlib.Path) -> tuple[str, str]:
    """The api-server's secret key and JWT secret: made once, kept in a file only this user
    reads, the same for every component and every restart (so tokens and sessions survive)."""
    path = home / "api-secrets.json"
    if path.exists():
        data = json.loads(path.read_text())
        return data["secret_key"], data["jwt_secret"]
    home.mkdir(parents=True, exist_ok=True)
    data = {"secret_key": secrets.token_hex(16), "jwt_secret": secrets.token_hex(32)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    return data["secret_key"], data["jwt_secret"]


@contextlib.contextmanager
def _private_file(folder: pathlib.Path, text: str) -> Iterator[pathlib.Path]:
    fd, name = tempfile.mkstemp(dir=folder, suffix=".json")  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        yield pathlib.Path(name)
    finally:
        pathlib.Path(name).unlink(missing_ok=True)


def _conninfo(dsn: str) -> dict[str, Any]:
    import psycopg

    return psycopg.conninfo.conninfo_to_dict(dsn)


def _postgres_url(info: dict[str, Any], dbname: str, scheme: str) -> str:
    user = info.get("user", "postgres")
    auth = f"{user}:{info['password']}" if info.get("password") else user
    return f"{scheme}://{auth}@{info.get('host', '127.0.0.1')}:{info.get('port', 5432)}/{dbname}"


def _without_password(dsn: str) -> str:
    info = _conninfo(dsn)
    return _postgres_url({k: v for k, v in info.items() if k != "password"}, "", "postgresql")


def _ports(profile: Profile) -> list[int]:
    ports = [profile.api_port, *profile.log_server_ports]
    if profile.intacct_url is None:
        ports.append(profile.intacct_sandbox_port)
    if profile.divvy_url is None:
        ports.append(profile.divvy_sandbox_port)
    return ports


def _port_taken(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _printer(out: Any) -> Callable[[str], None]:
    started = time.monotonic()

    def say(text: str) -> None:
        print(f"[{time.monotonic() - started:5.0f} s] {text}", file=out, flush=True)

    return say
