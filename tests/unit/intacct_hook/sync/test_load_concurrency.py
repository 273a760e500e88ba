"""Load with ``intacct_concurrency`` above 1: several batches at Intacct at once, against the
local gateway (its concurrency limit set to match) with the real hook, on SQLite and
PostgreSQL ledgers. Exactly once holds: every record is sent in one batch, recorded under its
claim, and what one worker leaves unfinished is recovered by lookup. No timing is asserted.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import pytest

from intacct_hook.intacct.errors import IntacctServerError
from intacct_hook.sync import steps
from intacct_hook.sync.ledger import Ledger, MappedLine, StagedTransaction
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.states import LedgerState
from sandbox.intacct_gateway.testing import GatewayHandle, default_connection, running_gateway
from tests.fake_intacct import txn_json

DAY = dt.date(2026, 10, 5)  # after the seed's closed period
CONN_ID = "intacct_concurrency_test"


@pytest.fixture(params=[2, 4])
def workers(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture
def gw(workers: int) -> Iterator[GatewayHandle]:
    # A little latency per job, so that the workers' requests overlap at the gateway.
    with running_gateway(concurrency=workers, latency=0.01) as handle:
        yield handle


def ready(ledger: Ledger, uuids: list[str], *, gl: str = "6100") -> None:
    """Staged and mapped on DAY, as stage and map leave postable transactions."""
    ledger.stage(
        [
            StagedTransaction(
                uuid=u,
                transaction_type="CLEAR",
                amount=Decimal("12.50"),
                occurred_time=dt.datetime.combine(DAY, dt.time(12), dt.UTC),
                posting_date=DAY,
                updated_time=None,
                merchant="Staples",
                raw_payload={"transaction": txn_json(uuid=u), "children": []},
                state=LedgerState.READY,
            )
            for u in uuids
        ],
        "run-stage",
    )
    ledger.save_mappings(
        (u, [MappedLine(1, u, Decimal("12.50"), gl, "100", description="paper")], "ready", None)
        for u in uuids
    )


def refs(n: int, prefix: str = "txr") -> list[str]:
    return [f"{prefix}-{i:03d}" for i in range(n)]


def settings(workers: int) -> SyncSettings:
    return SyncSettings(batch_size=5, intacct_concurrency=workers, timezone="UTC")


def states(ledger: Ledger) -> Counter[str]:
    return Counter(r.state for r in ledger.select_in_state(list(LedgerState)))


def sent_per_reference(gw: GatewayHandle) -> Counter[str]:
    """How often each reference number was sent in a record_cctransaction."""
    return Counter(
        ref.text
        for doc in gw.requests
        for ref in doc.iterfind("operation/content/function/record_cctransaction/referenceno")
    )


def test_every_record_is_posted_once_and_recorded_under_its_record_no(ledger, gw, hook, workers):
    uuids = refs(60)
    ready(ledger, uuids)

    report = steps.load(hook, ledger, settings(workers), "run-1")

    assert (report.posted, report.failed, report.already_posted) == (60, 0, 0)
    assert sent_per_reference(gw) == Counter({u: 1 for u in uuids})
    stored = {r["RECORDID"]: r["RECORDNO"] for r in gw.cctransactions()}
    assert len(stored) == 60
    rows = ledger.select_in_state([LedgerState.POSTED])
    assert {r.uuid: r.intacct_record_no for r in rows} == stored
    assert 1 <= gw.max_in_flight() <= workers
    # Batches went out from several workers, each a request of its own claimed rows.
    batches = [len(d.findall("operation/content/function")) for d in gw.requests]
    assert sum(n for n in batches if n > 1) == 60


def test_a_refused_record_fails_alone_while_the_others_post(ledger, gw, hook, workers):
    uuids = refs(20)
    ready(ledger, uuids)
    ready(ledger, ["txr-refused"], gl="6999")  # an inactive account: Intacct refuses it

    report = steps.load(hook, ledger, settings(workers), "run-1")

    assert (report.posted, report.failed) == (20, 1)
    assert report.failures[0].startswith("txr-refused: ")
    assert states(ledger) == Counter({"posted": 20, "failed": 1})
    assert {r["RECORDID"] for r in gw.cctransactions()} == set(uuids)


def test_an_interrupted_batch_is_looked_up_and_nothing_is_sent_twice(ledger, gw, hook, workers):
    uuids = refs(30)
    ready(ledger, uuids)
    # The first attempt claimed a batch and sent it, then died before recording the answer.
    s = settings(workers)
    lost = ledger.claim_records("run-1#try1", run_id="run-1", batch_size=5, lease=s.claim_lease)
    txns = [steps.build_cctransaction(r, r.lines, s) for r in lost]
    assert all(o.ok for o in hook.record_cctransactions(txns))

    report = steps.load(hook, ledger, s, "run-1", try_number=2)

    assert (report.resolved_unknown, report.posted, report.failed) == (5, 25, 0)
    assert sent_per_reference(gw) == Counter({u: 1 for u in uuids})
    assert states(ledger) == Counter({"posted": 30})


def test_one_batch_failing_loses_no_others_outcome_and_the_retry_finishes(
    ledger, gw, hook, workers
):
    uuids = refs(40)
    ready(ledger, uuids)
    # Nothing is processed for this request; the hook gives up on it at once (one attempt).
    gw.queue_fault("server_error", status=503, after_function="record_cctransaction")

    with pytest.raises(IntacctServerError):
        steps.load(hook, ledger, settings(workers), "run-1")

    # Every batch Intacct answered is recorded; the failed one stays claimed, the rest ready.
    stored = {r["RECORDID"] for r in gw.cctransactions()}
    posted = {r.uuid for r in ledger.select_in_state([LedgerState.POSTED])}
    assert posted == stored and stored
    counts = states(ledger)
    assert counts["posting"] == 5 and counts["failed"] == 0
    assert sum(counts.values()) == 40

    retry = steps.load(hook, ledger, settings(workers), "run-1", try_number=2)

    assert retry.released_unknown == 5 and retry.failed == 0
    assert states(ledger) == Counter({"posted": 40})
    assert sent_per_reference(gw) == Counter({u: 1 for u in uuids})


class Stopped(Exception):
    """What Airflow raises in the task's main thread when it stops the task."""


def test_a_task_stopped_mid_load_leaves_no_claim_behind_and_nothing_sent_twice(
    ledger, workers, monkeypatch
):
    from intacct_hook.hooks.intacct import IntacctHook

    uuids = refs(80)
    ready(ledger, uuids)
    one_by_one = SyncSettings(batch_size=1, intacct_concurrency=workers, timezone="UTC")

    def stop(_signum, _frame):
        raise Stopped

    # 80 requests of 0.1 s, at most 4 at once (2 s or more): the workers are sending when the
    # task stops, after the sign-in and the adopt lookup (0.1 s each).
    with running_gateway(concurrency=workers, latency=0.1) as gw:
        conn = json.dumps(default_connection(gw.url))
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", conn)
        hook = IntacctHook(intacct_conn_id=CONN_ID)
        hook.get_books_closed_through()  # signed in before the clock starts
        previous = signal.signal(signal.SIGALRM, stop)
        signal.setitimer(signal.ITIMER_REAL, 0.6)
        try:
            with pytest.raises(Stopped):
                steps.load(hook, ledger, one_by_one, "run-1")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

        # The batches in hand were sent and recorded, the ones claimed ahead given back.
        counts = states(ledger)
        assert set(counts) <= {"posted", "ready"} and counts["ready"] and counts["posted"]
        stored = {r["RECORDID"] for r in gw.cctransactions()}
        assert {r.uuid for r in ledger.select_in_state([LedgerState.POSTED])} == stored

        steps.load(hook, ledger, one_by_one, "run-1", try_number=2)
        hook.close()
        assert states(ledger) == Counter({"posted": 80})
        assert sent_per_reference(gw) == Counter({u: 1 for u in uuids})
