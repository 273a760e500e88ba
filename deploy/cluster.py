"""A real Airflow deployment as processes on this machine: its components (api-server,
scheduler, dag-processor, triggerer, Celery worker ...) started as ``airflow <command>`` each in
its own process group, their output in ``<home>/component-logs/<name>.log`` and their process
IDs in ``<home>/pids/<name>.pid`` (so that another command can stop them: ``make airflow-stop``).

Used by ``make airflow`` (deploy.profile) and by the tests that run a real scheduler
(tests/integration/scheduler). Everything waits by polling with a deadline
(``wait_until``); nothing relies on a fixed sleep. Secrets handed to the components through the
environment are redacted from every text this module returns (log tails, command output).
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

ROOT = pathlib.Path(__file__).resolve().parents[1]
DAG_ID = "divvy_intacct_sync"

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A bounded wait ran out; the message says what was awaited and what was last seen."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    probe: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.5,
    check: Callable[[], None] | None = None,
) -> T:
    """Call ``probe`` until it returns something truthy, at most ``timeout`` seconds.

    ``check`` runs before every probe and may raise (e.g. a component died) to stop early.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        if check is not None:
            check()
        try:
            last = probe()
        except Exception as exc:  # a probe may fail while a component is still starting
            last = exc
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def tail(path: pathlib.Path, lines: int, *, skip: str | None = None) -> str:
    """The last ``lines`` lines of a file (without those containing ``skip``)."""
    try:
        data = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no such file)"
    kept = [line for line in data.splitlines() if not (skip and skip in line)]
    return "\n".join(kept[-lines:])


def readable_task_log(text: str, *, width: int = 1500) -> str:
    """Airflow 3 task logs are JSON lines: show time, level, event and any error compactly."""
    out = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            out.append(line[:width])
            continue
        if not isinstance(entry, dict):
            out.append(line[:width])
            continue
        text_line = (
            f"{entry.get('timestamp', '')} {entry.get('level', '')} {entry.get('event', '')}"
        )
        for detail in entry.get("error_detail") or ():
            frames = detail.get("frames") or ()
            where = frames[-1] if frames else {}
            text_line += (
                f" | {detail.get('exc_type')}: {detail.get('exc_value')}"
                f" at {where.get('filename')}:{where.get('lineno')}"
            )
        out.append(text_line[:width])
    return "\n".join(out)


@dataclass
class Component:
    name: str
    proc: subprocess.Popen[bytes]
    log: pathlib.Path


@dataclass
class AirflowCluster:
    """One Airflow deployment. ``env`` is the complete environment of every component;
    ``python`` the interpreter whose Airflow runs them (``python -m airflow``): this one, or a
    virtualenv that holds the built wheel (deploy.wheel)."""

    home: pathlib.Path
    metadata_dsn: str  # libpq form, for this process's own queries
    env: dict[str, str]
    api_port: int
    secrets: Sequence[str] = ()
    python: pathlib.Path = field(default_factory=lambda: pathlib.Path(sys.executable))
    components: dict[str, Component] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per set-up step

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def log_dir(self) -> pathlib.Path:
        return self.home / "component-logs"

    @property
    def pid_dir(self) -> pathlib.Path:
        return self.home / "pids"

    @property
    def airflow(self) -> list[str]:
        return [str(self.python), "-m", "airflow"]

    # --- commands ---------------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 180) -> str:
        """Run ``airflow <args>``; its stdout, or an AssertionError with the (redacted) output."""
        done = subprocess.run(
            [*self.airflow, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            raise AssertionError(
                redact(
                    f"airflow {' '.join(args)} exited {done.returncode}\n"
                    f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}",
                    self.secrets,
                )
            )
        return done.stdout

    def start(self, name: str, *args: str) -> Component:
        """Start ``airflow <args>`` in its own process group, output to ``<name>.log``."""
        return self.start_command(name, [*self.airflow, *args])

    def start_command(
        self, name: str, argv: Sequence[str], cwd: pathlib.Path | None = None
    ) -> Component:
        """Start ``argv`` (with the components' environment) as component ``name``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                list(argv),
                env=self.env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own group: stopping it stops its workers too
            )
        component = Component(name, proc, log)
        self.components[name] = component
        (self.pid_dir / f"{name}.pid").write_text(f"{proc.pid}\n")
        return component

    def check_alive(self) -> None:
        """Raise if a component has exited: waiting on it any longer is pointless."""
        dead = {
            c.name: c.proc.returncode for c in self.components.values() if c.proc.poll() is not None
        }
        if dead:
            raise AssertionError(f"Airflow component(s) exited early: {dead}")

    def stop(self, grace: float = 20) -> None:
        """SIGTERM every component's process group, then SIGKILL what is left after ``grace``."""
        for c in self.components.values():
            if c.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(c.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for c in self.components.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                c.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for c in self.components.values():
            # The group may outlive its leader (task workers); kill whatever is left of it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(c.proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                c.proc.wait(timeout=5)
            (self.pid_dir / f"{c.name}.pid").unlink(missing_ok=True)

    # --- health -----------------------------------------------------------------------------

    def http_ok(self, path: str) -> bool:
        try:
            with urllib.request.urlopen(self.api_url + path, timeout=5) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.api_url + "/api/v2/monitor/health", timeout=5) as resp:
            return json.loads(resp.read())

    def healthy(self, *parts: str) -> bool:
        body = self.health()
        return all((body.get(p) or {}).get("status") == "healthy" for p in parts)

    # --- the metadata DB --------------------------------------------------------------------

    def query(
        self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None
    ) -> list[dict]:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.metadata_dsn, row_factory=dict_row, connect_timeout=5) as conn:
            return list(conn.execute(sql, params))

    # --- diagnostics ------------------------------------------------------------------------

    def log_tails(self, lines: int = 40) -> str:
        parts = []
        for c in self.components.values():
            state = "running" if c.proc.poll() is None else f"exited {c.proc.returncode}"
            parts.append(f"----- {c.name} ({state}), last {lines} lines of {c.log} -----")
            # The api-server logs every request; those lines would hide everything else.
            parts.append(tail(c.log, lines, skip="[http.access]"))
        return redact("\n".join(parts), self.secrets)

    def task_logs(
        self, run_id: str, task_id: str, try_number: int | None = None, dag_id: str = DAG_ID
    ) -> list[pathlib.Path]:
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        pattern = f"attempt={try_number}*.log" if try_number else "*.log"
        return sorted(folder.glob(pattern)) or sorted(folder.glob("*.log"))

    def task_errors(
        self, run_id: str, task_id: str, try_number: int | None = None, dag_id: str = DAG_ID
    ) -> list[str]:
        """The exceptions a task's log reports, as ``Type: message`` (redacted)."""
        errors = []
        for log in self.task_logs(run_id, task_id, try_number, dag_id):
            for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict):
                    for detail in entry.get("error_detail") or ():
                        errors.append(f"{detail.get('exc_type')}: {detail.get('exc_value')}")
        return [redact(e, self.secrets) for e in errors]

    def task_log_tails(self, rows: Iterable[Mapping[str, Any]], lines: int = 40) -> str:
        """Tails of the task logs of ``rows`` (dicts with run_id, task_id, try_number and, for
        a DAG other than ``DAG_ID``, dag_id)."""
        parts = []
        for r in rows:
            dag_id = r.get("dag_id", DAG_ID)
            logs = self.task_logs(r["run_id"], r["task_id"], r["try_number"], dag_id)
            for log in logs:
                parts.append(f"----- task log {log.relative_to(self.home)} -----")
                parts.append(readable_task_log(tail(log, lines)))
            if not logs:
                parts.append(f"----- no task log for {dag_id} {r['run_id']} {r['task_id']} -----")
        return redact("\n".join(parts), self.secrets)


@contextlib.contextmanager
def postgres_database(server_dsn: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the server of ``server_dsn``; its name. Dropped on exit."""
    import uuid

    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"  # generated here, never user input
    with psycopg.connect(server_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(server_dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(server_dsn: str, dbname: str, driver: str | None = None) -> str:
    """A URL for ``dbname`` on the server of ``server_dsn``: libpq form, or SQLAlchemy's with
    ``driver`` (``psycopg2``, ``psycopg``)."""
    import psycopg

    info = psycopg.conninfo.conninfo_to_dict(server_dsn)
    user = info.get("user", "postgres")
    password = info.get("password")
    auth = f"{user}:{password}" if password else user
    host, port = info.get("host", "127.0.0.1"), info.get("port", 5432)
    scheme = f"postgresql+{driver}" if driver else "postgresql"
    return f"{scheme}://{auth}@{host}:{port}/{dbname}"


# --- components started by an earlier command (make airflow-stop / airflow-status) -------------


def recorded_components(home: pathlib.Path) -> dict[str, int]:
    """Component name -> process ID, as ``AirflowCluster.start`` recorded them under ``home``."""
    found = {}
    for pidfile in sorted((home / "pids").glob("*.pid")):
        with contextlib.suppress(ValueError, OSError):
            found[pidfile.stem] = int(pidfile.read_text().strip())
    return found


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's
        return True
    # A zombie (exited, not yet reaped by a parent that is gone) is not running.
    with contextlib.suppress(OSError):
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def stop_recorded(home: pathlib.Path, grace: float = 30) -> dict[str, str]:
    """Stop every component recorded under ``home`` (its whole process group): SIGTERM, then
    SIGKILL what is left after ``grace`` seconds. Returns what happened to each."""
    recorded = recorded_components(home)
    outcome = {}
    for name, pid in recorded.items():
        if is_running(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
            outcome[name] = "stopped"
        else:
            outcome[name] = "was not running"
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(is_running(p) for p in recorded.values()):
        time.sleep(0.3)
    for name, pid in recorded.items():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
            if outcome[name] == "stopped" and is_running(pid):
                outcome[name] = "killed"
        (home / "pids" / f"{name}.pid").unlink(missing_ok=True)
    return outcome
