"""End to end: the real DAG (``dag.test``) over generated windows of 1k and 10k transactions.

Each size runs in its own process (``python -m benchmarks.bench_e2e --child N``) with a
throw-away ``AIRFLOW_HOME`` (a copy of one migrated metadata DB) and its own servers:

- the Divvy API holding N complete, coded clears over two days, **without rate limit** (the
  server's limit is lifted and the client limiter gets a 1 ms window: Divvy's real 60 calls a
  minute would make the extract alone take N/50 seconds, which measures Divvy, not us);
- the Intacct gateway, schema-validated, with a fixed 20 ms latency per request and one
  request at a time (Intacct's standard level of service runs one request per company).

Printed per size: each task's wall time, its CPU per transaction (this process), its Intacct
requests (writes / reads) and Divvy requests; totals against issue 10's budget
(``ceil(N/100)`` writes + ``ceil(N/1000)`` reads + 20), reconcile's reads against
``ceil(N/2000)`` + 5, the process's peak RSS (VmHWM) against 500 MB, and the load step
against the batched floor: a bare client posting the same records (100 per request, lxml, one
persistent connection) to the same gateway in the same process. The peer, the open-source
``sageintacctsdk`` (one function per request, the ``bench`` extra), posts 200 of the records
and its per-record time is compared with the load's.

100,000 transactions: ``python -m benchmarks e2e --size 100000`` (or
``DIVVY_INTACCT_BENCH_E2E_SIZES=1000,10000,100000``); it takes several minutes.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from typing import Any

from benchmarks import _env
from benchmarks._harness import Figure

NAME = "e2e"
DEFAULT_SIZES = (1_000, 10_000)
SIZES_ENV = "DIVVY_INTACCT_BENCH_E2E_SIZES"
DAYS = (date(2026, 10, 5), date(2026, 10, 6))  # after the seed's closed period
LATENCY_MS = 20.0
BATCH_SIZE = 100
PEER_RECORDS = 200
MEMORY_TARGET_MB = 500.0
TASKS = ("preflight", "extract", "stage", "map", "load", "recode", "reconcile", "receipts")


def sizes() -> tuple[int, ...]:
    raw = os.environ.get(SIZES_ENV, "")
    if not raw.strip():
        return DEFAULT_SIZES
    return tuple(int(s) for s in raw.replace(" ", "").split(",") if s)


def budget(n: int) -> int:
    return math.ceil(n / 100) + math.ceil(n / 1000) + 20


# --- parent side ----------------------------------------------------------------------------


def _migrated_db() -> str:
    """One migrated Airflow metadata DB per benchmark run; each child copies it."""
    path = _env.workdir() / "airflow-migrated.db"
    if not path.exists():
        home = _env.workdir() / "airflow-migrate"
        home.mkdir(exist_ok=True)
        env = {**os.environ, "AIRFLOW_HOME": str(home)}
        airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
        subprocess.run([airflow, "db", "migrate"], check=True, capture_output=True, env=env)
        shutil.copy(home / "airflow.db", path)
    return str(path)


def _child(n: int) -> dict[str, Any]:
    db = _migrated_db()
    cmd = [sys.executable, "-m", "benchmarks.bench_e2e", "--child", str(n), "--db", db]
    done = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("E2E-RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"the {n:,}-transaction run failed ({done.returncode}):\n{done.stderr[-4000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1][len("E2E-RESULT ") :])
    return result


def run() -> list[Figure]:
    figures: list[Figure] = []
    peaks: dict[int, float] = {}
    for n in sizes():
        result = _child(n)
        peaks[n] = result["peak_rss_mb"]
        figures += _figures(n, result)
    if 10_000 in peaks and 100_000 in peaks:
        figures.append(
            Figure(
                "peak RSS 100k / 10k",
                peaks[100_000] / peaks[10_000],
                "x",
                1.2,
                higher_is_better=False,
            )
        )
    return figures


def _k(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else f"{n:,}"


def _figures(n: int, r: dict[str, Any]) -> list[Figure]:
    k = _k(n)
    out: list[Figure] = []
    for task in TASKS:
        t = r["tasks"].get(task)
        if t is None:
            out.append(Figure(f"{k}: {task}", None, "s", note="no timing recorded"))
            continue
        out.append(Figure(f"{k}: {task} wall", t["wall"], "s"))
        out.append(Figure(f"{k}: {task} CPU per transaction", t["cpu"] * 1e6 / n, "µs"))
        out.append(
            Figure(
                f"{k}: {task} requests (Intacct + Divvy)",
                t["intacct_write"] + t["intacct_read"] + t["divvy"],
                "req",
                note=f"{k} {task}: Intacct {t['intacct_write']} writes / "
                f"{t['intacct_read']} reads, Divvy {t['divvy']}",
            )
        )
    ia = r["intacct"]
    total = ia["write"] + ia["read"]
    out.append(
        Figure(
            f"{k}: Intacct requests (writes + reads)",
            total,
            "req",
            budget(n),
            higher_is_better=False,
            note=f"{k}: {ia['write']} writes ({ia['functions'].get('record_cctransaction', 0):,} "
            f"record_cctransaction, {r['functions_per_write']:.0f} per request) + {ia['read']} "
            f"reads; functions: {ia['functions']}",
        )
    )
    out.append(Figure(f"{k}: Divvy requests (pages of 50, no rate limit)", r["divvy"], "req"))
    rec = r["tasks"].get("reconcile", {})
    out.append(
        Figure(
            f"{k}: reconcile Intacct reads",
            rec.get("intacct_read"),
            "req",
            math.ceil(n / 2000) + 5,
            higher_is_better=False,
        )
    )
    out.append(Figure(f"{k}: posted", r["posted"], "txn", n))
    out.append(
        Figure(f"{k}: peak RSS", r["peak_rss_mb"], "MB", MEMORY_TARGET_MB, higher_is_better=False)
    )
    out.append(Figure(f"{k}: RSS before the run", r["base_rss_mb"], "MB"))
    out.append(Figure(f"{k}: DAG run wall", r["run_wall"], "s"))
    out.append(
        Figure(
            f"{k}: share of run in Intacct latency",
            100 * total * LATENCY_MS / 1000 / r["run_wall"],
            "%",
            note=f"{k}: {total} requests x {LATENCY_MS:.0f} ms against {r['run_wall']:.1f} s; "
            "the rest is Airflow, our code, the emulators' own work and Divvy",
        )
    )
    load = r["tasks"].get("load", {}).get("wall")
    out.append(Figure(f"{k}: batched floor (bare client)", r["floor_s"], "s"))
    if load:
        out.append(Figure(f"{k}: load / floor", load / r["floor_s"], "x"))
    peer = r.get("peer")
    if peer and load:
        per_peer = peer["seconds"] / peer["records"]
        per_ours = load / n
        out.append(Figure(f"{k}: peer sageintacctsdk per record", per_peer * 1000, "ms"))
        out.append(Figure(f"{k}: load per record", per_ours * 1000, "ms"))
        out.append(Figure(f"{k}: peer / load per record", per_peer / per_ours, "x"))
    elif r.get("peer_note"):
        out.append(Figure(f"{k}: peer sageintacctsdk", None, "ms", note=r["peer_note"]))
    return out


# --- child side -----------------------------------------------------------------------------


def _rss_mb() -> float:
    """This process's peak resident set, in MB.

    VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child started by a
    parent that had grown (the benchmarks run before this one) reported the parent's peak.
    VmHWM belongs to the process's own address space, which exec replaces.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    # ru_maxrss is in KiB on Linux (an upper bound, see above).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _instrument(intacct: Any, divvy: Any, tasks: dict[str, Any]) -> None:
    """Time each task's ``execute`` (wall, this process's CPU) and count what it asked each
    server; the operators run unchanged inside."""
    from intacct_hook.operators import sync as ops

    def wrap(cls: type) -> None:
        execute = cls.__dict__["execute"]

        def timed(self: Any, context: Any) -> Any:
            before_i, before_d = intacct.stats(), divvy.stats()["requests"]
            cpu0, wall0 = time.process_time(), time.perf_counter()
            try:
                return execute(self, context)
            finally:
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                after_i, after_d = intacct.stats(), divvy.stats()["requests"]
                tasks[self.task_id] = {
                    "wall": wall,
                    "cpu": cpu,
                    "intacct_write": after_i["write"] - before_i["write"],
                    "intacct_read": after_i["read"] - before_i["read"],
                    "divvy": after_d - before_d,
                }

        cls.execute = timed  # type: ignore[attr-defined]

    for cls in vars(ops).values():
        if (
            isinstance(cls, type)
            and issubclass(cls, ops.SyncStepOperator)
            and "execute" in vars(cls)
        ):
            wrap(cls)


def _posted_records(ledger: Any, settings: Any) -> list[Any]:
    """The CCTransactions the load sent, rebuilt from the ledger as the load builds them."""
    from intacct_hook.sync import steps
    from intacct_hook.sync.states import LedgerState

    rows = ledger.select_in_state([LedgerState.POSTED], DAYS[0], DAYS[-1])
    lines = ledger.mapped_lines([r.uuid for r in rows])
    return [steps.build_cctransaction(r, lines.get(r.uuid, ()), settings) for r in rows]


def _floor(url: str, records: list[Any]) -> float:
    """A bare client: 100 record_cctransaction functions per request built with lxml, POSTed
    over one persistent connection, each answer parsed and its results checked."""
    import requests
    from lxml import etree

    from intacct_hook.intacct import request as rq
    from sandbox.intacct_gateway.testing import DEFAULT_SENDER_PASSWORD, DEFAULT_USER_PASSWORD

    def envelope(functions: list[etree._Element], auth: etree._Element) -> bytes:
        root = etree.Element("request")
        control = etree.SubElement(root, "control")
        for tag, text in (
            ("senderid", "bill.com"),
            ("password", DEFAULT_SENDER_PASSWORD),
            ("controlid", "floor"),
            ("uniqueid", "false"),
            ("dtdversion", "3.0"),
        ):
            etree.SubElement(control, tag).text = text
        operation = etree.SubElement(root, "operation")
        operation.append(auth)
        etree.SubElement(operation, "content").extend(functions)
        return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))

    session = requests.Session()
    headers = {"Content-Type": "application/xml"}
    login = etree.Element("authentication")
    credentials = etree.SubElement(login, "login")
    for tag, text in (
        ("userid", "Divvy"),
        ("companyid", "ACME-DEMO"),
        ("password", DEFAULT_USER_PASSWORD),
        ("locationid", "E100"),
    ):
        etree.SubElement(credentials, tag).text = text
    get_session = etree.Element("function", controlid="s")
    etree.SubElement(get_session, "getAPISession")
    answer = etree.fromstring(
        session.post(url, envelope([get_session], login), headers=headers).content
    )
    session_id = answer.findtext(".//api/sessionid")
    endpoint = answer.findtext(".//api/endpoint") or url
    start = time.perf_counter()
    for i in range(0, len(records), BATCH_SIZE):
        auth = etree.Element("authentication")
        etree.SubElement(auth, "sessionid").text = session_id
        functions = [
            rq.Function(f"floor-{i + j}", rq.record_cctransaction(t).element).to_element()
            for j, t in enumerate(records[i : i + BATCH_SIZE])
        ]
        reply = etree.fromstring(
            session.post(endpoint, envelope(functions, auth), headers=headers).content
        )
        statuses = reply.findall(".//result/status")
        if len(statuses) != len(functions) or any(s.text != "success" for s in statuses):
            raise RuntimeError("the floor client's batch was not all accepted")
    return time.perf_counter() - start


def _peer(url: str, records: list[Any]) -> dict[str, Any]:
    """``sageintacctsdk`` posting ``records``, one ``record_cctransaction`` per request (its
    ``ChargeCardTransactions.post``), signed in with its own ``getAPISession``."""
    from sageintacctsdk.apis import ChargeCardTransactions

    from sandbox.intacct_gateway.testing import DEFAULT_SENDER_PASSWORD, DEFAULT_USER_PASSWORD

    api = ChargeCardTransactions()
    api.set_sender_id("bill.com")
    api.set_sender_password(DEFAULT_SENDER_PASSWORD)
    api.set_show_private(False)
    # The SDK has the production URL built in; getAPISession then moves it to the endpoint
    # the gateway returns, as it does with Intacct.
    api._ApiBase__api_url = url  # type: ignore[attr-defined]
    api.get_session_id("Divvy", "ACME-DEMO", DEFAULT_USER_PASSWORD, "E100")
    start = time.perf_counter()
    for t in records:
        result = api.post(_peer_payload(t))
        if result.get("status") != "success":
            raise RuntimeError(f"the peer's record_cctransaction failed: {result}")
    return {"records": len(records), "seconds": time.perf_counter() - start}


def _peer_payload(t: Any) -> dict[str, Any]:
    """The SDK's dict for one transaction, keys in the schema's element order."""

    def some(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        return {k: v for k, v in pairs if v not in (None, "")}

    d = t.payment_date
    items = [
        some(
            [
                ("glaccountno", line.gl_account_no),
                ("description", line.description),
                ("paymentamount", format(line.amount, "f")),
                ("departmentid", line.department_id),
                ("locationid", line.location_id),
                ("projectid", line.project_id),
                ("classid", line.class_id),
            ]
        )
        for line in t.lines
    ]
    return some(
        [
            ("chargecardid", t.card_id),
            ("paymentdate", {"year": d.year, "month": f"{d.month:02d}", "day": f"{d.day:02d}"}),
            ("referenceno", t.reference_no),
            ("payee", t.payee),
            ("description", t.description),
            ("ccpayitems", {"ccpayitem": items}),
        ]
    )


def child(n: int, db: str) -> dict[str, Any]:
    workdir = _env.prepare()
    home = workdir / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(db, home / "airflow.db")
    os.environ["DIVVY_INTACCT_TASK_RETRIES"] = "0"
    from benchmarks._servers import ChildServer
    from sandbox.intacct_gateway.testing import default_connection

    days = ",".join(d.isoformat() for d in DAYS)
    with (
        ChildServer("intacct", latency_ms=LATENCY_MS) as intacct,
        ChildServer("divvy-clears", rows=n, timeout=600, args=["--days", days]) as divvy,
    ):
        os.environ["AIRFLOW_CONN_INTACCT_DEFAULT"] = json.dumps(
            default_connection(intacct.info["url"], timeout=120)
        )
        os.environ["AIRFLOW_CONN_DIVVY_DEFAULT"] = json.dumps(
            {
                "conn_type": "divvy",
                "host": divvy.info["url"],
                "password": divvy.info["token"],
                "extra": {"timeout": 60, "rate_limit_window": 0.001},
            }
        )
        rules = workdir / "mapping_rules.csv"
        shutil.copy(_env.ROOT / "include/mapping_rules.csv", rules)
        ledger_path = workdir / "ledger.db"
        settings_json = {
            "ledger_path": str(ledger_path),
            "mapping_file": str(rules),
            "timezone": "America/Chicago",
            "batch_size": BATCH_SIZE,
            "lookback_days": 0,
        }
        os.environ["AIRFLOW_VAR_DIVVY_INTACCT_SETTINGS"] = json.dumps(settings_json)

        import pendulum
        from airflow.dag_processing.dagbag import DagBag

        from intacct_hook.sync.ledger import Ledger
        from intacct_hook.sync.settings import SyncSettings

        bag = DagBag(dag_folder=str(_env.ROOT / "dags"))
        if bag.import_errors:
            raise RuntimeError(f"the DAG does not import: {bag.import_errors}")
        dag = bag.get_dag("divvy_intacct_sync")
        tasks: dict[str, Any] = {}
        _instrument(intacct, divvy, tasks)
        base_rss = _rss_mb()
        start = time.perf_counter()
        dag_run = dag.test(
            logical_date=pendulum.datetime(2026, 10, 5, tz="America/Chicago"),
            run_after=datetime(2026, 10, 7, 12, tzinfo=UTC),
            run_conf={"start_date": DAYS[0].isoformat(), "end_date": DAYS[-1].isoformat()},
        )
        run_wall = time.perf_counter() - start
        peak = _rss_mb()
        if str(dag_run.state) != "success":
            states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
            raise RuntimeError(f"the DAG run ended {dag_run.state}: {states}")
        ia = intacct.stats()
        dv = divvy.stats()["requests"]
        settings = SyncSettings.from_variable(settings_json)
        ledger = Ledger.sqlite(ledger_path)
        records = _posted_records(ledger, settings)
        floor_s = _floor(intacct.info["url"], records)
        result: dict[str, Any] = {
            "tasks": tasks,
            "intacct": ia,
            "functions_per_write": ia["functions"].get("record_cctransaction", 0)
            / max(ia["write"], 1),
            "divvy": dv,
            "posted": len(records),
            "peak_rss_mb": peak,
            "base_rss_mb": base_rss,
            "run_wall": run_wall,
            "floor_s": floor_s,
        }
        try:
            result["peer"] = _peer(intacct.info["url"], records[:PEER_RECORDS])
        except ImportError:
            result["peer_note"] = "sageintacctsdk is not installed (the 'bench' extra)"
    return result


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_e2e")
    parser.add_argument("--child", type=int, required=True)
    parser.add_argument("--db", required=True)
    args = parser.parse_args(argv)
    result = child(args.child, args.db)
    print("E2E-RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
