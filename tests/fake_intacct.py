"""An in-memory Intacct that satisfies ``intacct_hook.sync.steps.IntacctTarget``, and ledger
rows as stage and map leave them: what the unit tests of the load step and of the operators
share. Nothing here talks HTTP or needs Airflow."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from intacct_hook.intacct.errors import IntacctError
from intacct_hook.intacct.records import CCTransaction, RecordOutcome
from intacct_hook.sync import steps
from intacct_hook.sync.ledger import Ledger, MappedLine, StagedTransaction
from intacct_hook.sync.states import LedgerState
from tests.divvy_factories import txn_json

DAY = date(2026, 8, 1)
CARD = "Divvy CC Object"


class LostAnswer(ConnectionError):
    """The connection dropped after the request left: whether Intacct committed is unknown."""


class FakeIntacct:
    """Intacct's credit card transactions in memory, keyed like Intacct's: by reference number.

    ``events`` records every call in order (``("find", refs)``, ``("record", refs)``), so a test
    can say what was asked before what was sent. A write of a reference number Intacct already
    holds is reported ``already_posted``, as the real writer's lookup does.
    """

    def __init__(self, ledger: Ledger | None = None) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.events: list[tuple[str, tuple[str, ...]]] = []
        self.refuse: dict[str, str] = {}
        self.lose_answer_after_commit = False
        self.lose_request_before_commit = False
        self.states_seen_when_sent: list[dict[str, str]] = []
        self._ledger = ledger
        self._next_record_no = 1000
        self.books_closed_through: date | None = None  # as IntacctHook reads it; None: unknown

    def get_books_closed_through(self) -> date | None:
        return self.books_closed_through

    def hold(self, reference_no: str, day: date = DAY, total: Decimal = Decimal("53.03")) -> str:
        """A record put into Intacct by someone else (another ledger, a person)."""
        self._next_record_no += 1
        record_no = str(self._next_record_no)
        self.records[reference_no] = {
            "RECORDNO": record_no,
            "RECORDID": reference_no,
            "WHENCREATED": day,
            "TOTALENTERED": str(total),
        }
        return record_no

    def sent(self) -> list[str]:
        return [ref for kind, refs in self.events if kind == "record" for ref in refs]

    def record_cctransactions(
        self, txns: Sequence[CCTransaction], *, batch_size: int | None = None
    ) -> list[RecordOutcome]:
        refs = tuple(t.reference_no for t in txns)
        self.events.append(("record", refs))
        if self._ledger is not None:
            self.states_seen_when_sent.append(self._ledger.states(list(refs)))
        if self.lose_request_before_commit:
            raise LostAnswer("connection reset before the gateway read the request")
        outcomes = []
        for t in txns:
            if t.reference_no in self.refuse:
                error = IntacctError(self.refuse[t.reference_no], record=t.reference_no)
                outcomes.append(RecordOutcome(t.reference_no, t.control_id, "failed", error=error))
            elif t.reference_no in self.records:
                record_no = self.records[t.reference_no]["RECORDNO"]
                outcomes.append(
                    RecordOutcome(t.reference_no, t.control_id, "already_posted", record_no)
                )
            else:
                record_no = self.hold(t.reference_no, t.payment_date, t.total)
                outcomes.append(RecordOutcome(t.reference_no, t.control_id, "posted", record_no))
        if self.lose_answer_after_commit:
            raise LostAnswer("connection reset after Intacct committed")
        return outcomes

    def find_cctransactions(
        self, card_id: str, start: date, end: date, reference_nos: Iterable[str] | None = None
    ) -> list[dict[str, Any]]:
        wanted = None if reference_nos is None else tuple(reference_nos)
        self.events.append(("find", wanted or ()))
        return [
            dict(r)
            for r in self.records.values()
            if card_id in (None, CARD)
            and start <= r["WHENCREATED"] <= end
            and (wanted is None or r["RECORDID"] in wanted)
        ]

    def iter_cctransactions(
        self, card_id: str, start: date, end: date, fields: Sequence[str] = ()
    ) -> Iterator[dict[str, Any]]:
        yield from self.find_cctransactions(card_id, start, end)

    def count_cctransactions(
        self, card_id: str, start: date, end: date, *, with_reference: bool = False
    ) -> int:
        rows = self.find_cctransactions(card_id, start, end)
        return sum(1 for r in rows if r["RECORDID"] or not with_reference)


def ready(ledger: Ledger, *uuids: str, amount: str = "53.03", gl: str | None = "6100") -> None:
    """Staged and mapped, as stage and map leave a postable transaction."""
    ledger.stage(
        [
            StagedTransaction(
                uuid=u,
                transaction_type="CLEAR",
                amount=Decimal(amount),
                occurred_time=dt.datetime.combine(DAY, dt.time(12), dt.UTC),
                posting_date=DAY,
                updated_time=None,
                merchant="Amazon",
                raw_payload={"transaction": txn_json(uuid=u), "children": []},
                state=LedgerState.READY,
            )
            for u in uuids
        ],
        "run-stage",
    )
    for u in uuids:
        line = MappedLine(line_no=1, source_uuid=u, amount=Decimal(amount), gl_account_no=gl)
        assert ledger.save_mapping(u, [line], LedgerState.READY)


# The fake is only worth something while it satisfies the step's protocol (mypy checks this).
_target: steps.IntacctTarget = FakeIntacct()
