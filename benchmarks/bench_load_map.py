"""The map and load steps as the DAG runs them, on about 5,000 postable transactions.

12,500 generated Divvy transactions (about 5,000 of them postable) are staged into a SQLite
ledger (a temp file) by the real posting rules, then ``steps.map_transactions`` codes them
with the 65-rule file of the ``mapping`` benchmark, and ``steps.load`` posts every ready one to
the local Intacct gateway (a child process, schema-validated) in batches of 100, exactly as the
load task does: take over interrupted claims, the adopt lookup, then claim → build → send →
parse → ledger update per batch.

Targets (issue 10): **map ≥ 50,000 transactions/s** on the staged rows (the whole step: the
rules file read, the ledger read of what stage kept for mapping, coding, saving every verdict
and line; its modules are imported beforehand, as a task imports them once), printed beside the
**floor** of its writes (:func:`map_write_floor`: the same rows written with bare
``executemany`` calls, nothing else) and beside a **re-map** of the same, unchanged rows (the
step again: it writes nothing then); and **load local CPU ≤
100 µs per transaction**: the CPU time of this process during ``steps.load`` (building the
requests, sending, parsing the answers, every ledger read and write) divided by the
transactions posted. The gateway's CPU is its own process's and is not counted; the wall time
per transaction is printed beside it.
At 100 µs a 100,000-transaction window spends ten seconds of its own, against Intacct's round
trips of about a second per 100. Beside it, the **bare CPU floor** (:func:`cpu_floor`): the
same load's irreducible operations run bare on a copy of the same ledger against the same
gateway (per batch the claim and its commit, the lxml records, one ``http.client`` exchange,
parsing the answer, one ``executemany`` of the answers and its commit), per phase in the notes.

Then against a gateway taking 20 ms a request: **load wall at most 1.3 times that of a bare
batched client** (:func:`bare_floor`: lxml request of 100 functions, one kept-alive
connection, parse the results, nothing else) posting the same records to the same gateway;
and the load's wall time with the gateway's concurrency limit and ``intacct_concurrency``
both at 1, 2 and 4. Every load starts from a copy of the same mapped ledger.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import time
import uuid
from http.client import HTTPConnection
from typing import TYPE_CHECKING, Any

from benchmarks import _env
from benchmarks._harness import Figure
from benchmarks._servers import ChildServer, intacct_hook

if TYPE_CHECKING:
    from lxml import etree

NAME = "load_map"
STAGED = 12_500  # of which about 5,000 are postable (the rest held or skipped)
BATCH_SIZE = 100
MAP_TARGET = 50_000.0
LOAD_CPU_TARGET = 100.0  # µs per transaction
CONN_ID = "intacct_bench_load"
LATENCY_MS = 20.0  # per request, as issue 10 measured Intacct
SLOW_LATENCY_MS = 250.0  # Intacct's own time dominating, as in production
FLOOR_RATIO_TARGET = 1.3
CONCURRENCY_LEVELS = (1, 2, 4)


def _bare_envelope(
    extra: dict[str, Any], auth: etree._Element
) -> tuple[etree._Element, etree._Element]:
    """A bare client's request envelope (none of the package's builders): the control block,
    ``auth`` and an empty content element to fill; returns the request and its content."""
    from lxml import etree

    sub = etree.SubElement
    request = etree.Element("request")
    control = sub(request, "control")
    for tag, text in (
        ("senderid", extra["sender_id"]),
        ("password", extra["sender_password"]),
        ("controlid", uuid.uuid4().hex),
        ("uniqueid", "false"),
        ("dtdversion", "3.0"),
        ("includewhitespace", "false"),
    ):
        sub(control, tag).text = text
    operation = sub(request, "operation", transaction="false")
    operation.append(auth)
    return request, sub(operation, "content")


def _hook(server: ChildServer) -> Any:
    return intacct_hook(server, CONN_ID)


def _settings(concurrency: int = 1) -> Any:
    from intacct_hook.sync.settings import SyncSettings

    return SyncSettings(
        batch_size=BATCH_SIZE, timezone="America/Denver", intacct_concurrency=concurrency
    )


def staged_ledger(count: int = STAGED) -> Any:
    """A fresh SQLite ledger holding ``count`` staged transactions (ready, held, skipped)."""
    from benchmarks.bench_ledger_stage import staged_rows
    from intacct_hook.sync.ledger import Ledger

    path = _env.workdir() / f"ledger-load-{uuid.uuid4().hex[:8]}.db"
    ledger = Ledger.sqlite(path)
    ledger.ensure_schema()
    ledger.stage(staged_rows(count), run_id="bench__stage")
    return ledger


def map_step(ledger: Any) -> dict[str, Any]:
    from benchmarks.bench_mapping import rules_text, valid_ids
    from intacct_hook.sync import steps
    from intacct_hook.sync.rules import load_rules

    path = _env.workdir() / "load_map_rules.csv"
    path.write_text(rules_text(), encoding="utf-8")
    return steps.map_transactions(
        ledger,
        _settings(),
        load_rules(path),
        card_default_location="100",
        valid_ids=valid_ids(),
        required_dimensions={"6250": frozenset({"department"})},
    )


def load_step(hook: Any, ledger: Any) -> Any:
    """The load step as the benchmark runs it (for profiling it alone)."""
    from intacct_hook.sync import steps

    return steps.load(hook, ledger, _settings(), "bench__load")


def _snapshot(ledger: Any, name: str = "mapped") -> pathlib.Path:
    """A copy of the ledger's file, so every step below starts from the same rows."""
    with ledger.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    ledger.engine.dispose()
    source = pathlib.Path(ledger.engine.url.database)
    copy = source.with_name(f"{source.stem}-{name}.db")
    _copy_to_disk(source, copy)
    return copy


def map_write_floor(staged: pathlib.Path, mapped: pathlib.Path) -> tuple[float, float, str]:
    """Wall and CPU seconds of the bare writes a first map must make, and what they are: the
    mapped ledger's line rows inserted (in primary-key order), and its changed states updated,
    into a copy of the staged ledger (same schema, same pragmas as the ledger's connections),
    with one bare ``executemany`` each in one transaction. Untimed before it, the map's own
    page read, so the pages are as warm as the map step finds them."""
    import sqlite3

    with sqlite3.connect(mapped) as source:
        # In primary-key order, the cheapest for SQLite to insert (the map step inserts a
        # page's lines so too).
        lines = source.execute("SELECT * FROM mapped_line ORDER BY uuid, line_no").fetchall()
        after = dict(
            source.execute(
                "SELECT uuid, state || '|' || coalesce(state_reason, '') FROM divvy_transaction"
            )
        )
        columns = [r[1] for r in source.execute("PRAGMA table_info(mapped_line)")]
        updates = source.execute(
            "SELECT state, state_reason, updated_at, uuid FROM divvy_transaction"
        ).fetchall()
    with sqlite3.connect(staged) as before:
        before_states = dict(
            before.execute(
                "SELECT uuid, state || '|' || coalesce(state_reason, '') FROM divvy_transaction"
            )
        )
    updates = [u for u in updates if before_states.get(u[3]) != after[u[3]]]
    path = staged.with_name(f"ledger-floor-{uuid.uuid4().hex[:8]}.db")
    _copy_to_disk(staged, path)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(
            "SELECT t.uuid, t.state, m.lines FROM divvy_transaction t "
            "LEFT JOIN map_input m ON m.uuid = t.uuid "
            "WHERE t.state IN ('ready', 'unmapped', 'failed')"
        ).fetchall()
        marks = ", ".join("?" * len(columns))
        insert = f"INSERT INTO mapped_line ({', '.join(columns)}) VALUES ({marks})"
        cpu0, start = time.process_time(), time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert, lines)
        conn.executemany(
            "UPDATE divvy_transaction SET state = ?, state_reason = ?, updated_at = ? "
            "WHERE uuid = ? AND state IN ('ready', 'unmapped', 'failed')",
            updates,
        )
        conn.execute("COMMIT")
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    finally:
        conn.close()
    return wall, cpu, f"{len(lines):,} lines, {len(updates):,} states"


def _copy_to_disk(source: pathlib.Path, copy: pathlib.Path) -> None:
    """Copy a ledger file and wait until the copy is on disk. Left in the page cache, the
    copy's ~60 MB were written back while the next step ran, and its commits waited on them:
    the first map measured 88-104 ms of wall instead of 75-86 (2026-11-29, same machine)."""
    shutil.copyfile(source, copy)
    with open(copy, "rb+") as written:
        os.fsync(written.fileno())


def _ledger_from(snapshot: pathlib.Path) -> Any:
    from intacct_hook.sync.ledger import Ledger

    path = snapshot.with_name(f"ledger-run-{uuid.uuid4().hex[:8]}.db")
    _copy_to_disk(snapshot, path)
    return Ledger.sqlite(path)


def _timed_load(
    ledger: Any,
    *,
    concurrency: int = 1,
    latency_ms: float = 0.0,
    floor: bool = False,
    snapshot: pathlib.Path | None = None,
) -> tuple[Any, float, float, float | None, dict[str, float] | None]:
    """Load every ready row to a fresh gateway child: (report, CPU s, wall s, bare client's
    wall s when ``floor``: the same records, rebuilt from the ledger after the timing; the
    :func:`cpu_floor` of ``snapshot`` against the same gateway, when given)."""
    from intacct_hook.sync import steps
    from intacct_hook.sync.states import LedgerState

    with ChildServer("intacct", concurrency=concurrency, latency_ms=latency_ms) as server:
        hook = _hook(server)
        hook.get_books_closed_through()  # sign-in and connection pool, paid once a run
        settings = _settings(concurrency)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        report = steps.load(hook, ledger, settings, "bench__load")
        cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
        hook.close()
        floor_s = None
        if floor:
            rows = ledger.select_in_state([LedgerState.POSTED])
            lines = ledger.mapped_lines([r.uuid for r in rows])
            txns = [steps.build_cctransaction(r, lines[r.uuid], settings) for r in rows]
            floor_s = bare_floor(server.info["url"], txns)
        floor_cpu = cpu_floor(server.info["url"], snapshot) if snapshot is not None else None
    if report.failed or not report.posted:
        raise AssertionError(f"load posted {report.posted}: {report.summary()}")
    return report, cpu_s, wall_s, floor_s, floor_cpu


#: The phases of :func:`cpu_floor`, in the order a batch runs them.
FLOOR_PHASES = ("claim", "build", "http", "parse", "answers")


def cpu_floor(url: str, snapshot: pathlib.Path, batch_size: int = BATCH_SIZE) -> dict[str, float]:
    """CPU µs per transaction of the operations no exactly-once batched load can skip, run
    bare in this process on a copy of the same mapped ledger against the same gateway: per
    batch, the claim (the package's ``claim_for_posting`` and ``select_claimed_lines``
    statements through sqlite3, committed before sending), the lxml build and serialization of
    the records from those rows, the HTTP exchange (``http.client``, one kept-alive
    connection), parsing the answer (``etree.fromstring``, status and key of each result), and
    the answers (``mark_posted`` as one ``executemany``, committed). Nothing else: no record
    objects, no text checks, no retry or error handling, no per-request session logic.

    Keys: :data:`FLOOR_PHASES` and ``total``. It posts with ``uniqueid=false`` and its own
    control IDs, as :func:`bare_floor` does.
    """
    import sqlite3
    from urllib.parse import urlsplit

    from lxml import etree

    from intacct_hook.paths import SQL_DIR
    from intacct_hook.sync.ledger import for_dialect
    from sandbox.intacct_gateway.testing import default_connection

    def sql(name: str) -> str:
        return for_dialect((SQL_DIR / f"{name}.sql").read_text(encoding="utf-8"), "sqlite")

    path = snapshot.with_name(f"ledger-floor-{uuid.uuid4().hex[:8]}.db")
    _copy_to_disk(snapshot, path)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA journal_mode = WAL")
    claim_sql, mark_sql = sql("claim_for_posting"), sql("mark_posted")
    lines_sql = sql("select_claimed_lines")
    card_id = _settings().card_account_id
    conn_info = default_connection(url)
    extra = conn_info["extra"]
    parts = urlsplit(url)
    http = HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    sub = etree.SubElement
    session_id = _bare_session(http, parts.path, conn_info)
    spent = dict.fromkeys(FLOOR_PHASES, 0.0)
    posted = 0
    clock = time.thread_time
    while True:
        t0 = clock()
        db.execute("BEGIN IMMEDIATE")
        params = {"owner": "floor", "run_id": "floor", "now": "n", "lease_until": "z"}
        claimed = [r[0] for r in db.execute(claim_sql, {**params, "batch_size": batch_size})]
        if not claimed:
            db.execute("COMMIT")
            break
        marks = ", ".join(f":u{i}" for i in range(len(claimed)))
        rows = db.execute(
            lines_sql.replace(":uuids", f"({marks})"),
            {"owner": "floor", **{f"u{i}": u for i, u in enumerate(claimed)}},
        ).fetchall()
        db.execute("COMMIT")
        t1 = clock()
        auth = etree.Element("authentication")
        sub(auth, "sessionid").text = session_id
        request, content = _bare_envelope(extra, auth)
        current, items = None, None
        for row in rows:
            (ref, day, merchant, _attempts, _no, _src, amount, gl, loc, dept, cls, proj, desc) = (
                row[:13]
            )
            if ref != current:
                current = ref
                rec = sub(sub(content, "function", controlid=f"f{ref}"), "record_cctransaction")
                sub(rec, "chargecardid").text = card_id
                date_el = sub(rec, "paymentdate")
                year, month, dom = day.split("-")
                sub(date_el, "year").text = year
                sub(date_el, "month").text = month
                sub(date_el, "day").text = dom
                sub(rec, "referenceno").text = ref
                if merchant:
                    sub(rec, "payee").text = merchant
                if desc:
                    sub(rec, "description").text = desc
                items = sub(rec, "ccpayitems")
            item = sub(items, "ccpayitem")
            sub(item, "glaccountno").text = gl
            if desc:
                sub(item, "description").text = desc
            sub(item, "paymentamount").text = amount
            for tag, value in (
                ("departmentid", dept),
                ("locationid", loc),
                ("projectid", proj),
                ("classid", cls),
            ):
                if value:
                    sub(item, tag).text = value
        body = etree.tostring(request, xml_declaration=True, encoding="UTF-8")
        t2 = clock()
        http.request("POST", parts.path, body, {"Content-Type": "application/xml"})
        answer = http.getresponse().read()
        t3 = clock()
        results = [
            (r.findtext("status"), r.findtext("key"), r.get("controlid"))
            for r in etree.fromstring(answer).iterfind("operation/result")
        ]
        t4 = clock()
        if len(results) != len(claimed) or any(s != "success" for s, _k, _c in results):
            raise AssertionError(f"the floor's batch came back {results[:3]}...")
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            mark_sql,
            [
                {"uuid": u, "record_no": key, "control_id": None, "now": "n"}
                for u, (_s, key, _c) in zip(claimed, results, strict=True)
            ],
        )
        db.execute("COMMIT")
        t5 = clock()
        posted += len(claimed)
        for phase, seconds in zip(
            FLOOR_PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True
        ):
            spent[phase] += seconds
    http.close()
    db.close()
    out = {phase: seconds * 1e6 / posted for phase, seconds in spent.items()}
    out["total"] = sum(out.values())
    return out


def _bare_session(http: HTTPConnection, path: str, conn_info: dict[str, Any]) -> str:
    """``getAPISession`` with lxml over ``http``: the session ID."""
    from lxml import etree

    extra = conn_info["extra"]
    sub = etree.SubElement
    auth = etree.Element("authentication")
    login = sub(auth, "login")
    for tag, text in (
        ("userid", conn_info["login"]),
        ("companyid", extra["company_id"]),
        ("password", conn_info["password"]),
        ("locationid", extra["entity_id"]),
    ):
        sub(login, tag).text = text
    request, content = _bare_envelope(extra, auth)
    sub(sub(content, "function", controlid="login"), "getAPISession")
    body = etree.tostring(request, xml_declaration=True, encoding="UTF-8")
    http.request("POST", path, body, {"Content-Type": "application/xml"})
    answer = etree.fromstring(http.getresponse().read())
    return str(answer.findtext("operation/result/data/api/sessionid"))


def bare_floor(url: str, txns: list[Any], batch_size: int = BATCH_SIZE) -> float:
    """Wall seconds a minimal batched client takes to post ``txns`` to the gateway at ``url``:
    build each 100-function request with lxml, POST it over one kept-alive connection, parse
    the results; nothing else (no ledger, no retries, no checks). It signs in first, untimed.

    It sends with ``uniqueid=false`` and its own control IDs, so the gateway records the same
    records again (after the load) instead of refusing them as already processed.
    """
    from urllib.parse import urlsplit

    from lxml import etree

    from sandbox.intacct_gateway.testing import default_connection

    conn_info = default_connection(url)
    extra = conn_info["extra"]
    parts = urlsplit(url)
    http = HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    sub = etree.SubElement

    def post(request: etree._Element) -> etree._Element:
        body = etree.tostring(request, xml_declaration=True, encoding="UTF-8")
        http.request("POST", parts.path, body, {"Content-Type": "application/xml"})
        return etree.fromstring(http.getresponse().read())

    login = etree.Element("authentication")
    fields = sub(login, "login")
    for tag, text in (
        ("userid", conn_info["login"]),
        ("companyid", extra["company_id"]),
        ("password", conn_info["password"]),
        ("locationid", extra["entity_id"]),
    ):
        sub(fields, tag).text = text
    request, content = _bare_envelope(extra, login)
    sub(sub(content, "function", controlid="login"), "getAPISession")
    session_id = post(request).findtext("operation/result/data/api/sessionid")

    start = time.perf_counter()
    for first in range(0, len(txns), batch_size):
        auth = etree.Element("authentication")
        sub(auth, "sessionid").text = session_id
        request, content = _bare_envelope(extra, auth)
        batch = txns[first : first + batch_size]
        for n, txn in enumerate(batch):
            rec = sub(sub(content, "function", controlid=f"f{n}"), "record_cctransaction")
            sub(rec, "chargecardid").text = txn.card_id
            day = sub(rec, "paymentdate")
            sub(day, "year").text = f"{txn.payment_date.year:04d}"
            sub(day, "month").text = f"{txn.payment_date.month:02d}"
            sub(day, "day").text = f"{txn.payment_date.day:02d}"
            sub(rec, "referenceno").text = txn.reference_no
            if txn.payee:
                sub(rec, "payee").text = txn.payee
            if txn.description:
                sub(rec, "description").text = txn.description
            items = sub(rec, "ccpayitems")
            for line in txn.lines:
                item = sub(items, "ccpayitem")
                sub(item, "glaccountno").text = line.gl_account_no
                if line.description:
                    sub(item, "description").text = line.description
                sub(item, "paymentamount").text = format(line.amount, "f")
                for tag, value in (
                    ("departmentid", line.department_id),
                    ("locationid", line.location_id),
                    ("projectid", line.project_id),
                    ("classid", line.class_id),
                ):
                    if value:
                        sub(item, tag).text = value
        results = [
            (r.findtext("status"), r.findtext("key"))
            for r in post(request).iterfind("operation/result")
        ]
        if len(results) != len(batch) or any(s != "success" for s, _ in results):
            raise AssertionError(f"the bare client's batch came back {results[:3]}...")
    wall = time.perf_counter() - start
    http.close()
    return wall


def run() -> list[Figure]:
    # The map step imports its coder when it first runs: once per task, not per transaction
    # (it needs no pandas). This benchmark's own rules and IDs (map_step's imports) too.
    import benchmarks.bench_mapping  # noqa: F401
    import intacct_hook.sync.coding  # noqa: F401
    from intacct_hook.sync.states import LedgerState

    ledger = staged_ledger()
    mappable = len(ledger.select_for_mapping())
    staged = _snapshot(ledger, "staged")
    ledger = _ledger_from(staged)
    cpu0, start = time.process_time(), time.perf_counter()
    summary = map_step(ledger)
    map_s, map_cpu = time.perf_counter() - start, time.process_time() - cpu0
    ready = len(ledger.select_in_state([LedgerState.READY]))
    if ready != summary["mapped"] or not ready:
        raise AssertionError(f"map summary {summary} but {ready} ready rows")
    # The same step again on the mapped ledger: every verdict and line stands.
    cpu0, start = time.process_time(), time.perf_counter()
    again = map_step(ledger)
    remap_s, remap_cpu = time.perf_counter() - start, time.process_time() - cpu0
    if again != summary:
        raise AssertionError(f"re-map summary {again}, first {summary}")
    snapshot = _snapshot(ledger)
    floor_s, floor_cpu, writes = map_write_floor(staged, snapshot)
    figures = [
        Figure(
            f"map step, {mappable:,} staged transactions", mappable / map_s, "txn/s", MAP_TARGET
        ),
        Figure("map step, CPU", mappable / map_cpu, "txn/s"),
        Figure(f"map floor: bare writes of a first map ({writes})", mappable / floor_s, "txn/s"),
        Figure("map floor, CPU", mappable / floor_cpu, "txn/s"),
        Figure("map step wall / floor wall", map_s / floor_s, "x"),
        Figure("re-map, nothing changed (no write)", mappable / remap_s, "txn/s", MAP_TARGET),
        Figure("re-map, CPU", mappable / remap_cpu, "txn/s"),
    ]

    # Local CPU: the gateway answers at once, so the wall time is mostly this process's work.
    ledger = _ledger_from(snapshot)
    try:
        report, cpu_s, wall_s, _, floor_cpu = _timed_load(ledger, snapshot=snapshot)
    finally:
        ledger.engine.dispose()
    assert floor_cpu is not None
    per_txn = 1e6 / report.posted
    phases = ", ".join(f"{p} {floor_cpu[p]:.0f}" for p in FLOOR_PHASES)
    figures += [
        Figure(
            f"load local CPU, {report.posted:,} posted, batches of {BATCH_SIZE}",
            cpu_s * per_txn,
            "µs/txn",
            LOAD_CPU_TARGET,
            higher_is_better=False,
        ),
        Figure(
            "bare CPU floor of the same load (claim, lxml, HTTP, parse, answers)",
            floor_cpu["total"],
            "µs/txn",
            note=phases,
        ),
        Figure("load local CPU / bare CPU floor", cpu_s * per_txn / floor_cpu["total"], "x"),
        Figure("load wall time (gateway, no latency)", wall_s * per_txn, "µs/txn"),
    ]

    # Wall time against a gateway with Intacct's round trip, beside the bare client's floor,
    # then with 2 and 4 concurrent API jobs (gateway limit and setting alike). Again with a
    # slow gateway, where Intacct's time dominates as in production (about a second per 100).
    for latency_ms in (LATENCY_MS, SLOW_LATENCY_MS):
        walls: dict[int, float] = {}
        for concurrency in CONCURRENCY_LEVELS:
            ledger = _ledger_from(snapshot)
            try:
                report, _cpu, wall, floor_s, _ = _timed_load(
                    ledger,
                    concurrency=concurrency,
                    latency_ms=latency_ms,
                    floor=latency_ms == LATENCY_MS and concurrency == 1,
                )
            finally:
                ledger.engine.dispose()
            walls[concurrency] = wall
            figures.append(
                Figure(
                    f"load wall, {latency_ms:g} ms gateway, concurrency {concurrency}", wall, "s"
                )
            )
            if floor_s is not None:
                figures += [
                    Figure("bare batched client, same records and gateway", floor_s, "s"),
                    Figure(
                        "load wall / bare client wall",
                        wall / floor_s,
                        "x",
                        FLOOR_RATIO_TARGET,
                        higher_is_better=False,
                    ),
                ]
        for concurrency in CONCURRENCY_LEVELS[1:]:
            figures.append(
                Figure(
                    f"speed-up, {latency_ms:g} ms gateway, concurrency {concurrency} vs 1",
                    walls[1] / walls[concurrency],
                    "x",
                )
            )
    return figures
