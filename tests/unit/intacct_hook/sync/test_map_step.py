"""The map step over the ledger (issue 10): what stage keeps for it, pages, and its guards.

Generated Divvy weeks (splits, refunds, odd merchants, every custom field) are staged for real
and mapped on SQLite and PostgreSQL. The reference is the DataFrame path, ``map_lines`` over
``lines_frame`` of the same transactions: the step must reach the same verdicts and lines.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from intacct_hook.sync import steps
from intacct_hook.sync.ledger import (
    MAPPED_LINE_PARAMS,
    Ledger,
    LedgerStateError,
    MappedLine,
    StagedTransaction,
)
from intacct_hook.sync.map_inputs import (
    FORMAT_VERSION,
    decode_lines,
    decode_page,
    encode_map_input,
)
from intacct_hook.sync.mapping import lines_frame, map_lines
from intacct_hook.sync.rules import RuleSet, parse_rules
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.states import LedgerState
from intacct_hook.sync.translation import (
    PostingRules,
    decide,
    posting_lines,
    transaction_from_payload,
)
from intacct_hook.sync.window import SyncWindow
from sandbox.divvy_api.generator import generate_week
from sandbox.divvy_api.state import DivvyState

WINDOW = SyncWindow(dt.date(2026, 11, 16), dt.date(2026, 11, 18), 0, "America/Denver", "params")
# Rules of every kind, some setting IDs Intacct does not hold, one account requiring a
# department: the step meets each kind of verdict and reason.
RULES_TEXT = (
    "match_field,match_value,gl_account,location,department,class,project,note\n"
    "budget,Travel,6250,,,,,client travel needs a department\n"
    "mcc,5811-5814,6300,,,,,meals\n"
    "merchant,Uber*,6200,300,,C2,,\n"
    "merchant,Chevron,7777,,,,,no such account\n"
    "custom_field:Department,20,,,,C1,,engineering is class Core\n"
    "budget,Marketing,6500,200,,,P-200,\n"
)
RULES = parse_rules(RULES_TEXT, "rules.csv")
VALID = {
    "gl_account": {"6100", "6200", "6250", "6300", "6400", "6500", "6600", "6900"},
    "location": {"100", "200", "300"},
    "department": {"10", "20", "30"},
    "class": {"C1", "C2"},
    "project": {"P-100", "P-200"},
}
REQUIRED = {"6200": frozenset({"department"}), "6500": frozenset({"project", "task"})}
OPTIONS: dict[str, Any] = {
    "card_default_location": "100",
    "valid_ids": VALID,
    "required_dimensions": REQUIRED,
}


def payloads(seed: int = 5, per_day: int = 60) -> list[dict[str, Any]]:
    """Landed payloads of a generated week, as the Divvy API returns them (through the
    sandbox's state) and the hook decodes them: each listable transaction with its children."""
    week = generate_week(dt.date(2026, 11, 16), days=3, seed=seed, per_day=per_day)
    api = DivvyState(week).transactions

    def received(row: dict[str, Any]) -> dict[str, Any]:
        return json.loads(json.dumps(row), parse_float=Decimal)

    return [
        {
            "transaction": received(r),
            "children": [received(api[u]) for u in r["childTransactionUuids"]],
        }
        for r in api.values()
        if not r["parentTransactionUuid"]
    ]


def staged(payload: dict[str, Any]) -> StagedTransaction:
    txn = transaction_from_payload(payload)
    return steps.staged_transaction(txn, decide(txn, PostingRules()), WINDOW, payload)


def map_step(ledger: Ledger, rules: RuleSet = RULES, **kwargs: Any) -> dict[str, Any]:
    return steps.map_transactions(ledger, SyncSettings(), rules, **OPTIONS, **kwargs)


def expected(
    ledger: Ledger, rules: RuleSet = RULES
) -> dict[str, tuple[str, str | None, list[MappedLine]]]:
    """What ``map_lines`` makes of the transactions the step maps."""
    txns = [transaction_from_payload(r.raw_payload) for r in ledger.select_for_mapping()]
    result = map_lines(
        lines_frame(txns),
        rules,
        field_names=SyncSettings().custom_field_names,
        **OPTIONS,
    )
    return {o.uuid: (str(o.state), o.reason, list(o.lines)) for o in result.outcomes()}


def saved(ledger: Ledger, uuids: list[str]) -> dict[str, tuple[str, str | None, list[MappedLine]]]:
    rows = {r.uuid: r for r in ledger.select_in_state(list(LedgerState))}
    lines = ledger.mapped_lines(uuids)
    return {u: (rows[u].state, rows[u].state_reason, lines[u]) for u in uuids}


def map_inputs(ledger: Ledger) -> dict[str, str | None]:
    with ledger.engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT uuid, lines FROM map_input")).all())


def test_the_step_reaches_map_lines_verdicts_from_what_stage_kept_and_from_old_rows(ledger):
    ledger.stage([staged(p) for p in payloads()], "run1")
    want = expected(ledger)
    unmapped = [u for u, (state, _, _) in want.items() if state == "unmapped"]
    # The data meets every kind of verdict, or this test would prove little.
    assert len(want) > 60 and unmapped and len(unmapped) < len(want)
    reasons = " ".join(str(want[u][1]) for u in unmapped)
    for kind in ("does not exist in Intacct", "requires a department", "requires the Task"):
        assert kind in reasons
    assert any(len(lines) > 1 for _, _, lines in want.values())  # splits
    assert set(map_inputs(ledger)) >= set(want)

    summary = map_step(ledger)

    assert saved(ledger, list(want)) == want
    assert (summary["mapped"], summary["unmapped"]) == (len(want) - len(unmapped), len(unmapped))

    # A ledger staged before stage kept the map inputs: the step reads the payloads.
    with ledger._write() as conn:
        conn.execute(sa.text("DELETE FROM map_input"))
        conn.execute(sa.text("DELETE FROM mapped_line"))
    assert map_step(ledger) == summary
    assert saved(ledger, list(want)) == want


def test_pages_cover_every_row_once_in_posting_order(ledger):
    ledger.stage([staged(p) for p in payloads(seed=8, per_day=10)], "run1")
    want = [r.uuid for r in ledger.select_for_mapping()]
    pages = list(ledger.mapping_inputs(page=7))
    assert [r.uuid for page in pages for r in page] == want
    assert all(len(page) == 7 for page in pages[:-1])

    summary = map_step(ledger, page_size=7)

    assert summary["mapped"] + summary["unmapped"] == len(want)
    assert saved(ledger, want) == expected(ledger)


def test_stage_keeps_the_map_input_of_the_payload_the_row_holds(ledger):
    first = [staged(p) for p in payloads(seed=9, per_day=8)]
    ready = [r for r in first if r.state == LedgerState.READY]
    not_ready = next(r for r in first if r.state != LedgerState.READY)
    ledger.stage(first, "run1")
    held = map_inputs(ledger)
    assert {u for u, text in held.items() if text is not None} == {r.uuid for r in ready}
    assert held[not_ready.uuid] is None
    a, b = ready[0], ready[1]
    assert decode_lines(held[a.uuid] or "") == decode_lines(
        encode_map_input(transaction_from_payload(a.raw_payload))
    )

    # b is being posted: re-staged with new data it keeps its row, and so its map input.
    map_step(ledger)
    assert ledger.claim_for_posting(
        "run2#try1", run_id="run2", batch_size=1000, lease=dt.timedelta(minutes=30)
    )
    changed = [
        staged(p | {"transaction": p["transaction"] | {"amount": 12345}})
        for p in (a.raw_payload, b.raw_payload)
    ]
    ledger.stage(changed, "run3")
    after = map_inputs(ledger)
    assert after[b.uuid] == held[b.uuid]
    assert after[a.uuid] == held[a.uuid]  # a was claimed too: both are 'posting'


def test_a_restaged_row_gets_the_map_input_of_its_new_payload(ledger):
    [a] = [s for s in (staged(p) for p in payloads(seed=9, per_day=8)) if s.state == "ready"][:1]
    ledger.stage([a], "run1")
    changed = staged(
        a.raw_payload | {"transaction": a.raw_payload["transaction"] | {"amount": 777}}
    )
    ledger.stage([changed], "run2")
    lines = decode_lines(map_inputs(ledger)[a.uuid] or "")
    assert lines is not None and lines[0].amount == str(changed.amount) != str(a.amount)
    held = StagedTransaction(**{**changed.__dict__, "state": "held", "map_input": None})
    ledger.stage([held], "run3")
    assert map_inputs(ledger)[a.uuid] is None


def test_a_row_claimed_between_read_and_save_keeps_its_lines_and_is_reported(ledger):
    ledger.stage([staged(p) for p in payloads(seed=3, per_day=8)], "run1")
    map_step(ledger)
    [page] = list(ledger.mapping_inputs())
    ready = [r.uuid for r in page if r.state == "ready"]
    before = ledger.mapped_lines(ready)
    claimed = ledger.claim_for_posting(
        "other#try1", run_id="other", batch_size=2, lease=dt.timedelta(minutes=30)
    )
    taken = {r.uuid for r in claimed}
    assert len(taken) == 2

    # The verdicts of this (now stale) page: every line coded 6900 this time.
    verdicts = [(r.uuid, "ready", None, [_line(r.uuid, "6900")]) for r in page]
    assert ledger.save_map_verdicts(page, verdicts) == taken

    after = ledger.mapped_lines(ready)
    for uuid in ready:
        if uuid in taken:
            assert after[uuid] == before[uuid]
        else:
            assert [ln.gl_account_no for ln in after[uuid]] == ["6900"]
    states = ledger.states([r.uuid for r in page])
    assert {u for u, s in states.items() if s == "posting"} == taken


def test_the_step_counts_the_rows_a_load_claimed_before_its_save_apart(ledger, monkeypatch):
    ledger.stage([staged(p) for p in payloads(seed=3, per_day=8)], "run1")
    first = map_step(ledger)
    save = ledger.save_map_verdicts
    taken: set[str] = set()

    def load_claims_then_save(read: Any, verdicts: Any) -> set[str]:
        # A load of another run claims two ready rows between the page's read and its save.
        lease = dt.timedelta(minutes=30)
        claimed = ledger.claim_for_posting("other#try1", run_id="other", batch_size=2, lease=lease)
        taken.update(r.uuid for r in claimed)
        return save(read, verdicts)

    monkeypatch.setattr(ledger, "save_map_verdicts", load_claims_then_save)
    again = map_step(ledger)
    assert len(taken) == 2
    assert again == {
        "mapped": first["mapped"] - 2,
        "unmapped": first["unmapped"],
        "claimed_by_another_run": 2,
        "unmapped_reasons": first["unmapped_reasons"],
    }


def test_a_row_restaged_as_held_meanwhile_is_refused_and_the_others_are_saved(ledger):
    rows = [s for s in (staged(p) for p in payloads(seed=4, per_day=8)) if s.state == "ready"]
    ledger.stage(rows, "run1")
    [page] = list(ledger.mapping_inputs())
    victim = page[1].uuid
    ledger.stage(
        [StagedTransaction(**{**rows[[r.uuid for r in rows].index(victim)].__dict__,
                              "state": "held", "reason": "incomplete", "map_input": None})],
        "run2",
    )  # fmt: skip
    verdicts = [(r.uuid, "ready", None, [_line(r.uuid, "6100")]) for r in page]
    with pytest.raises(LedgerStateError, match=f"{victim}.*'held'"):
        ledger.save_map_verdicts(page, verdicts)
    lines = ledger.mapped_lines([r.uuid for r in page])
    assert lines[victim] == []
    assert all(
        [ln.gl_account_no for ln in lines[r.uuid]] == ["6100"] for r in page if r.uuid != victim
    )


def test_a_changed_verdict_is_written_and_an_unchanged_one_leaves_the_row_alone(ledger):
    rows = [s for s in (staged(p) for p in payloads(seed=6, per_day=6)) if s.state == "ready"]
    ledger.stage(rows[:2], "run1")
    a, b = rows[0].uuid, rows[1].uuid
    [page] = list(ledger.mapping_inputs())
    first = {
        a: (a, "unmapped", "no GL account", [_line(a, None)]),
        b: (b, "ready", None, [_line(b, "6100")]),
    }
    ledger.save_map_verdicts(page, [first[r.uuid] for r in page])
    stamp = _updated_at(ledger)
    assert ledger.states([a, b]) == {a: "unmapped", b: "ready"}

    [page] = list(ledger.mapping_inputs())
    assert {r.uuid: (r.state, r.state_reason) for r in page} == {
        a: ("unmapped", "no GL account"),
        b: ("ready", None),
    }
    second = {
        a: (a, "ready", None, [_line(a, "6200")]),
        b: (b, "ready", None, [_line(b, "6300")]),
    }
    ledger.save_map_verdicts(page, [second[r.uuid] for r in page])
    assert ledger.states([a, b]) == {a: "ready", b: "ready"}
    assert _updated_at(ledger)[b] == stamp[b]  # same verdict: the wide row is not rewritten
    assert [ln.gl_account_no for ln in ledger.mapped_lines([b])[b]] == ["6300"]
    assert [r.state_reason for r in ledger.select_in_state(["ready"]) if r.uuid == a] == [None]


def test_a_remap_rewrites_only_the_lines_that_change(ledger):
    ledger.stage([staged(p) for p in payloads(seed=7, per_day=30)], "run1")
    ledger.clock = lambda: dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)
    first = ledger.now()
    map_step(ledger)
    # Engineering is now class C2: the lines that rule coded change, the others stay as they are.
    changed = RULES_TEXT.replace("Department,20,,,,C1,", "Department,20,,,,C2,")
    assert changed != RULES_TEXT
    rules = parse_rules(changed, "rules.csv")
    ledger.clock = lambda: dt.datetime(2026, 11, 21, 10, tzinfo=dt.UTC)
    second = ledger.now()
    map_step(ledger, rules)

    want = expected(ledger, rules)
    assert saved(ledger, list(want)) == want
    engineering = next(r.provenance for r in rules if r.match_field == "custom_field")
    with ledger.engine.connect() as conn:
        stamps = conn.execute(sa.text("SELECT class_rule, mapped_at FROM mapped_line")).all()
    moved = [when for rule, when in stamps if rule == engineering]
    kept = [when for rule, when in stamps if rule != engineering]
    assert moved and len(kept) > len(moved)
    assert set(moved) == {second}
    assert set(kept) == {first}


def test_a_page_of_map_inputs_decodes_as_each_text_alone():
    texts = [encode_map_input(transaction_from_payload(p)) for p in payloads(seed=2, per_day=5)]
    texts[1:1] = [None, json.dumps([FORMAT_VERSION + 1, ["x", "1.00", None, "[]"]])]
    page = decode_page(texts)
    alone = [None if t is None else decode_lines(t) for t in texts]
    assert page == [None if ls is None else [list(ln) for ln in ls] for ls in alone]
    assert page[1] is None and page[2] is None and page[0] and page[-1]


def _updated_at(ledger: Ledger) -> dict[str, str]:
    return {r.uuid: r.updated_at for r in ledger.select_in_state(list(LedgerState))}


def _line(uuid: str, account: str | None) -> tuple[Any, ...]:
    params = {
        "uuid": uuid,
        "line_no": 1,
        "source_uuid": uuid,
        "amount": "1.00",
        "description": None,
        "gl_account_no": account,
        **dict.fromkeys(("location_id", "department_id", "class_id", "project_id")),
        **dict.fromkeys(
            ("gl_account_rule", "location_rule", "department_rule", "class_rule", "project_rule")
        ),
    }
    return tuple(params[name] for name in MAPPED_LINE_PARAMS)


def test_the_map_input_text_keeps_each_lines_amount_exactly():
    payload = next(p for p in payloads(seed=2, per_day=10) if p["children"])
    txn = transaction_from_payload(payload)
    lines = decode_lines(encode_map_input(txn))
    assert lines is not None and len(lines) == len(txn.children) > 1
    assert [ln.amount for ln in lines] == [format(pl.amount, "f") for pl in posting_lines(txn)]
    assert decode_lines(json.dumps([2, *json.loads(encode_map_input(txn))[1:]])) is None


# The map step in a fresh process, as a task runs it: it codes and saves without pandas, whose
# import alone cost the task a third of a second of CPU (~30 µs a transaction at 10,000).
MAP_IN_A_FRESH_PROCESS = """
import sys
from intacct_hook.sync import steps
from intacct_hook.sync.ledger import Ledger
from intacct_hook.sync.rules import parse_rules
from intacct_hook.sync.settings import SyncSettings
ledger = Ledger.sqlite(sys.argv[1], create=False)
rules = parse_rules(sys.argv[2], "rules.csv")
summary = steps.map_transactions(
    ledger, SyncSettings(), rules, card_default_location="100", valid_ids=None
)
assert summary["mapped"] > 0, summary
print(sorted(m for m in ("pandas", "numpy") if m in sys.modules))
"""


def test_the_map_step_imports_no_pandas(tmp_path):
    ledger = Ledger.sqlite(tmp_path / "ledger.db")
    ledger.ensure_schema()
    ledger.stage([staged(p) for p in payloads(seed=2, per_day=5)], "run1")
    ledger.engine.dispose()
    plugins = pathlib.Path(__file__).resolve().parents[4] / "plugins"
    env = dict(os.environ, PYTHONPATH=str(plugins))
    out = subprocess.run(
        [sys.executable, "-c", MAP_IN_A_FRESH_PROCESS, str(tmp_path / "ledger.db"), RULES_TEXT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
