"""The ledger states are one enum: the schema, the reports and the SQL use its plain words."""

from __future__ import annotations

import re

from intacct_hook.paths import SQL_DIR
from intacct_hook.sync.ledger import RECEIPT_STATES
from intacct_hook.sync.report import DRY_RUN_ACTIONS
from intacct_hook.sync.states import STATES, LedgerState


def test_the_schema_allows_exactly_the_enum_states():
    schema = (SQL_DIR / "schema.sql").read_text(encoding="utf-8")
    # divvy_transaction's states, then receipt_attachment's (a receipt's own states).
    allowed, receipts = re.findall(r"CHECK \(state IN \(([^)]*)\)\)", schema)
    assert {w.strip().strip("'") for w in allowed.split(",")} == set(LedgerState)
    assert set(STATES) == set(LedgerState)
    assert tuple(w.strip().strip("'") for w in receipts.split(",")) == RECEIPT_STATES


def test_states_are_stored_and_shown_as_their_plain_words():
    assert LedgerState.READY == "ready" and str(LedgerState.READY) == "ready"
    assert f"{LedgerState.POSTED}" == "posted" and repr(LedgerState.HELD) == "'held'"
    assert set(DRY_RUN_ACTIONS) <= set(LedgerState)
