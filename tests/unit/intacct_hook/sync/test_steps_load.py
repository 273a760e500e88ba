"""The load step's exactly-once logic (claim → post → mark, recovery of unknown outcomes,
adoption, the preview) on a real SQLite ledger, against an in-memory Intacct that satisfies
``steps.IntacctTarget``: no Airflow, no HTTP, so every ordering is visible and fast.

The e2e tests prove the same guarantees through real Airflow and the gateway; these pin which
step does what, so a broken step fails here by name.
"""

from __future__ import annotations

import datetime as dt
import gc
import weakref
from decimal import Decimal

import pytest

from intacct_hook.sync import steps
from intacct_hook.sync.ledger import Ledger, LedgerRow
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.states import LedgerState
from tests.fake_intacct import DAY, FakeIntacct, LostAnswer, ready

START = dt.datetime(2026, 8, 2, 6, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(tmp_path, clock: Clock) -> Ledger:
    led = Ledger.sqlite(tmp_path / "ledger.db")
    led.clock = clock
    led.ensure_schema()
    yield led
    led.engine.dispose()


@pytest.fixture
def intacct(ledger: Ledger) -> FakeIntacct:
    return FakeIntacct(ledger)


def rows(ledger: Ledger) -> dict[str, LedgerRow]:
    return {r.uuid: r for r in ledger.select_in_state(list(LedgerState))}


def state_of(ledger: Ledger) -> dict[str, str]:
    return {u: r.state for u, r in rows(ledger).items()}


SETTINGS = SyncSettings(batch_size=2, timezone="UTC")


# --- claim → post → mark ------------------------------------------------------------------------


def test_each_ready_row_is_claimed_then_sent_once_then_marked_with_intaccts_record_no(
    ledger, intacct
):
    ready(ledger, "txr_a", "txr_b", "txr_c")

    report = steps.load(intacct, ledger, SETTINGS, "run-1")

    assert report.posted == 3 and report.failed == 0
    # Batches of settings.batch_size, each row in exactly one request.
    assert [refs for kind, refs in intacct.events if kind == "record"] == [
        ("txr_a", "txr_b"),
        ("txr_c",),
    ]
    # The claim is committed before the request leaves: a crash mid-request leaves 'posting'.
    assert intacct.states_seen_when_sent == [
        {"txr_a": "posting", "txr_b": "posting"},
        {"txr_c": "posting"},
    ]
    after = rows(ledger)
    assert {u: (r.state, r.intacct_record_no) for u, r in after.items()} == {
        u: ("posted", intacct.records[u]["RECORDNO"]) for u in ("txr_a", "txr_b", "txr_c")
    }
    assert after["txr_a"].control_id  # kept, so a later lookup can be matched to the write
    assert report.last_posted == ("txr_c", DAY)


def test_a_row_posted_once_is_not_sent_again_by_any_later_load(ledger, intacct):
    ready(ledger, "txr_a", "txr_b")
    steps.load(intacct, ledger, SETTINGS, "run-1")

    second = steps.load(intacct, ledger, SETTINGS, "run-2")
    retry = steps.load(intacct, ledger, SETTINGS, "run-1", try_number=2)

    assert intacct.sent() == ["txr_a", "txr_b"]
    assert second.posted == retry.posted == 0


def test_a_refused_record_fails_alone_and_the_others_are_posted(ledger, intacct):
    ready(ledger, "txr_a", "txr_b", "txr_c")
    intacct.refuse["txr_b"] = "BL03000130 The period is closed."

    report = steps.load(intacct, ledger, SETTINGS, "run-1")

    assert report.posted == 2 and report.failed == 1
    assert report.failures[0].startswith("txr_b: ") and "period is closed" in report.failures[0]
    after = rows(ledger)
    assert state_of(ledger) == {"txr_a": "posted", "txr_b": "failed", "txr_c": "posted"}
    assert after["txr_b"].failed_attempts == 1
    assert "period is closed" in after["txr_b"].last_error


def test_a_record_that_cannot_be_built_is_failed_unsent_and_not_counted_as_an_attempt(
    ledger, intacct
):
    ready(ledger, "txr_a")
    ready(ledger, "txr_nogl", gl=None)

    report = steps.load(intacct, ledger, SETTINGS, "run-1")

    assert intacct.sent() == ["txr_a"]
    assert report.failed == 1 and "gl_account_no" in report.failures[0]
    broken = rows(ledger)["txr_nogl"]
    assert (broken.state, broken.failed_attempts) == ("failed", 0)


# --- the cycle collector -----------------------------------------------------------------------


class FreezeWatcher(FakeIntacct):
    """Notes how many objects the cycle collector had frozen when each batch was sent."""

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger)
        self.frozen_when_sent: list[int] = []
        self.collector_on_when_sent: list[bool] = []

    def record_cctransactions(self, txns, *, batch_size=None):
        self.frozen_when_sent.append(gc.get_freeze_count())
        self.collector_on_when_sent.append(gc.isenabled())
        return super().record_cctransactions(txns, batch_size=batch_size)


@pytest.fixture
def nothing_frozen():
    if gc.get_freeze_count():
        pytest.skip("objects are frozen for the whole session; these tests would thaw them")
    yield
    gc.unfreeze()


@pytest.mark.parametrize("concurrency", [1, 2])
def test_the_load_sends_with_older_objects_frozen_and_thaws_them_after(
    ledger, nothing_frozen, concurrency
):
    ready(ledger, "txr_a", "txr_b", "txr_c")
    watcher = FreezeWatcher(ledger)
    settings = SyncSettings(batch_size=2, timezone="UTC", intacct_concurrency=concurrency)

    report = steps.load(watcher, ledger, settings, "run-1")

    assert report.posted == 3
    # Full collections skip what the process held before the load; cycles the load makes are
    # still collected.
    assert len(watcher.frozen_when_sent) == 2 and min(watcher.frozen_when_sent) > 0
    assert all(watcher.collector_on_when_sent)
    assert gc.get_freeze_count() == 0


def test_a_load_that_fails_thaws_too(ledger, intacct, nothing_frozen):
    ready(ledger, "txr_a")
    intacct.lose_request_before_commit = True

    with pytest.raises(LostAnswer):
        steps.load(intacct, ledger, SETTINGS, "run-1")

    assert gc.get_freeze_count() == 0


def test_objects_a_caller_froze_stay_frozen(ledger, nothing_frozen):
    ready(ledger, "txr_a")
    gc.freeze()  # as Airflow's executors do before they fork
    before = gc.get_freeze_count()

    steps.load(FakeIntacct(ledger), ledger, SETTINGS, "run-1")

    assert gc.get_freeze_count() >= before > 0


class Cyclic:
    def __init__(self) -> None:
        self.me = self


def test_garbage_left_before_a_load_that_does_not_thaw_is_collected_not_frozen(
    ledger, nothing_frozen
):
    ready(ledger, "txr_a")
    gc.freeze()  # an Airflow task process: frozen before the fork, never thawed
    gc.disable()  # no collection of its own before the load's
    try:
        gone = weakref.ref(Cyclic())  # a cycle nothing refers to: garbage, not yet collected
        assert gone() is not None

        steps.load(FakeIntacct(ledger), ledger, SETTINGS, "run-1")
        gc.collect()
    finally:
        gc.enable()

    assert gone() is None


# --- recovery -----------------------------------------------------------------------------------


def test_an_answer_lost_after_commit_is_looked_up_by_the_retry_and_never_resent(ledger, intacct):
    ready(ledger, "txr_a", "txr_b")
    intacct.lose_answer_after_commit = True
    with pytest.raises(LostAnswer):
        steps.load(intacct, ledger, SETTINGS, "run-1")
    assert state_of(ledger) == {"txr_a": "posting", "txr_b": "posting"}
    intacct.lose_answer_after_commit = False
    intacct.events.clear()

    report = steps.load(intacct, ledger, SETTINGS, "run-1", try_number=2)

    # The first thing the retry does is ask Intacct about the rows in doubt.
    assert intacct.events[0] == ("find", ("txr_a", "txr_b"))
    assert intacct.sent() == []
    assert report.resolved_unknown == 2 and report.posted == 0
    assert {u: r.intacct_record_no for u, r in rows(ledger).items()} == {
        u: intacct.records[u]["RECORDNO"] for u in ("txr_a", "txr_b")
    }


def test_a_crash_between_intaccts_answer_and_the_ledger_write_is_looked_up_not_resent(
    ledger, intacct, monkeypatch
):
    ready(ledger, "txr_a", "txr_b", "txr_c")
    intacct.refuse["txr_b"] = "BL03000130 The period is closed."

    def crash(**_kwargs):
        raise KeyboardInterrupt("worker killed after Intacct answered")

    with monkeypatch.context() as patch:
        patch.setattr(ledger, "mark_outcomes", crash)
        with pytest.raises(KeyboardInterrupt):
            steps.load(intacct, ledger, SETTINGS, "run-1")
    # The batch's answers are written together: none of them was, so all are in doubt.
    assert state_of(ledger) == {"txr_a": "posting", "txr_b": "posting", "txr_c": "ready"}
    intacct.events.clear()

    report = steps.load(intacct, ledger, SETTINGS, "run-1", try_number=2)

    assert intacct.events[0] == ("find", ("txr_a", "txr_b"))
    # txr_a is found and recorded, never resent; txr_b (refused, so absent) is sent again.
    assert intacct.sent() == ["txr_b", "txr_c"]
    assert (report.resolved_unknown, report.released_unknown) == (1, 1)
    assert state_of(ledger) == {"txr_a": "posted", "txr_b": "failed", "txr_c": "posted"}


def test_a_request_lost_before_commit_is_released_after_the_lookup_and_sent_once(ledger, intacct):
    ready(ledger, "txr_a")
    intacct.lose_request_before_commit = True
    with pytest.raises(LostAnswer):
        steps.load(intacct, ledger, SETTINGS, "run-1")
    intacct.lose_request_before_commit = False
    intacct.events.clear()

    report = steps.load(intacct, ledger, SETTINGS, "run-1", try_number=2)

    kinds = [kind for kind, _ in intacct.events]
    assert kinds.index("find") < kinds.index("record")  # looked up before it is resent
    assert intacct.sent() == ["txr_a"]
    assert (report.released_unknown, report.posted) == (1, 1)
    assert state_of(ledger) == {"txr_a": "posted"}


def test_another_runs_live_claim_waits_for_its_lease_then_is_looked_up(ledger, intacct, clock):
    ready(ledger, "txr_a")
    intacct.lose_answer_after_commit = True
    with pytest.raises(LostAnswer):
        steps.load(intacct, ledger, SETTINGS, "run-1")
    intacct.lose_answer_after_commit = False
    intacct.events.clear()

    clock.now += SETTINGS.claim_lease - dt.timedelta(minutes=1)
    early = steps.load(intacct, ledger, SETTINGS, "run-2")
    assert early.resolved_unknown == early.released_unknown == 0
    assert state_of(ledger) == {"txr_a": "posting"}  # run-1's claim may still be in flight
    assert intacct.sent() == []

    clock.now += dt.timedelta(minutes=2)
    late = steps.load(intacct, ledger, SETTINGS, "run-2")
    assert late.resolved_unknown == 1
    assert intacct.sent() == []
    assert state_of(ledger) == {"txr_a": "posted"}


def test_a_record_intacct_already_holds_is_adopted_not_sent(ledger, intacct):
    ready(ledger, "txr_a", "txr_b")
    record_no = intacct.hold("txr_a")  # e.g. posted through a lost or second ledger

    report = steps.load(intacct, ledger, SETTINGS, "run-1")

    assert report.adopted == 1 and report.posted == 1
    assert intacct.sent() == ["txr_b"]
    adopted = rows(ledger)["txr_a"]
    assert (adopted.state, adopted.intacct_record_no) == ("posted", record_no)


# --- preview ------------------------------------------------------------------------------------


class NoWrites:
    """An Intacct that fails the test when anything at all is asked of it."""

    def record_cctransactions(self, txns, *, batch_size=None):
        raise AssertionError("a preview sent a write to Intacct")

    def find_cctransactions(self, card_id, start, end, reference_nos=None):
        raise AssertionError("a preview load asked Intacct")


def test_a_preview_load_sends_nothing_and_leaves_the_ledger_as_it_was(ledger):
    ready(ledger, "txr_a", "txr_b", amount="10.25")
    ready(ledger, "txr_nogl", gl=None)
    before = rows(ledger)

    report = steps.load(NoWrites(), ledger, SETTINGS, "run-1", dry_run=True)

    assert (report.would_post, report.would_post_total) == (2, Decimal("20.50"))
    assert report.posted == 0
    assert len(report.failures) == 1
    assert report.failures[0].startswith("txr_nogl: would not be sent to Intacct")
    assert rows(ledger) == before  # no claim, no state, no timestamp written
