"""The map and load steps as the DAG runs them, on about 5,000 postable transactions.

12,500 generated Divvy transactions (about 5,000 of them postable) are staged into a SQLite
ledger (a temp file) by the real posting rules, then ``steps.map_transactions`` codes them
with the 65-rule file of the ``mapping`` benchmark, and ``steps.load`` posts every ready one to
the local Intacct gateway (a child process, schema-validated) in batches of 100, exactly as the
load task does: take over interrupted claims, the adopt lookup, then claim → build → send →
parse → ledger update per batch.

Targets (issue 10): **map ≥ 50,000 transactions/s** on the staged rows (the whole step: the
rules file read, the ledger read of what stage kept for mapping, coding, saving every verdict
and line; pandas is imported beforehand, as a task imports it once), and **load local CPU ≤
100 µs per transaction**: the CPU time of this process during ``steps.load`` (building the
requests, sending, parsing the answers, every ledger read and write) divided by the
transactions posted. The gateway's CPU is its own process's and is not counted; the wall time
per transaction is printed beside it.
At 100 µs a 100,000-transaction window spends ten seconds of its own, against Intacct's round
trips of about a second per 100.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from benchmarks import _env
from benchmarks._harness import Figure
from benchmarks._servers import ChildServer, intacct_hook

NAME = "load_map"
STAGED = 12_500  # of which about 5,000 are postable (the rest held or skipped)
BATCH_SIZE = 100
MAP_TARGET = 50_000.0
LOAD_CPU_TARGET = 100.0  # µs per transaction
CONN_ID = "intacct_bench_load"


def _hook(server: ChildServer) -> Any:
    return intacct_hook(server, CONN_ID)


def _settings() -> Any:
    from intacct_hook.sync.settings import SyncSettings

    return SyncSettings(batch_size=BATCH_SIZE, timezone="America/Denver")


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
    from intacct_hook.sync import steps

    return steps.load(hook, ledger, _settings(), "bench__load")


def run() -> list[Figure]:
    # The map step imports pandas when it first runs: once per task, not per transaction.
    import intacct_hook.sync.mapping  # noqa: F401
    from intacct_hook.sync.states import LedgerState

    ledger = staged_ledger()
    try:
        mappable = len(ledger.select_for_mapping())
        start = time.perf_counter()
        summary = map_step(ledger)
        map_s = time.perf_counter() - start
        ready = len(ledger.select_in_state([LedgerState.READY]))
        if ready != summary["mapped"] or not ready:
            raise AssertionError(f"map summary {summary} but {ready} ready rows")
        with ChildServer("intacct") as server:
            hook = _hook(server)
            hook.get_books_closed_through()  # sign-in and connection pool, paid once a run
            cpu0, wall0 = time.process_time(), time.perf_counter()
            report = load_step(hook, ledger)
            cpu_s, wall_s = time.process_time() - cpu0, time.perf_counter() - wall0
            hook.close()
        if report.posted != ready or report.failed:
            raise AssertionError(f"load posted {report.posted} of {ready}: {report.summary()}")
    finally:
        ledger.engine.dispose()
    per_txn = 1e6 / report.posted
    return [
        Figure(
            f"map step, {mappable:,} staged transactions", mappable / map_s, "txn/s", MAP_TARGET
        ),
        Figure(
            f"load local CPU, {report.posted:,} posted, batches of {BATCH_SIZE}",
            cpu_s * per_txn,
            "µs/txn",
            LOAD_CPU_TARGET,
            higher_is_better=False,
        ),
        Figure("load wall time (local gateway)", wall_s * per_txn, "µs/txn"),
    ]
