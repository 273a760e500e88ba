from __future__ import annotations

import json
import pathlib
from datetime import date
from decimal import Decimal

import pytest

from intacct_hook.sync.ledger import Ledger, StagedTransaction
from intacct_hook.sync.report import format_table, ledger_summary, would_post_rows
from intacct_hook.sync.rules import parse_rules
from intacct_hook.sync.settings import SyncSettings
from intacct_hook.sync.targets import coding_targets
from intacct_hook.sync.window import SyncWindow
from sandbox.divvy_api.testing import running_divvy

ROOT = pathlib.Path(__file__).resolve().parents[4]
RULES = parse_rules(
    "match_field,match_value,gl_account,location,department,class,project,note\n"
    "budget,Marketing,6500,,10,C2,,\n"
    "mcc,5811-5814,6300,,,,,\n"
)


@pytest.fixture
def divvy(monkeypatch):
    seed = json.loads((ROOT / "sandbox/divvy_api/seeds/default.json").read_text())
    with running_divvy(seed) as api:
        monkeypatch.setenv(
            "AIRFLOW_CONN_DIVVY_DEFAULT",
            json.dumps({"conn_type": "divvy", "host": api.url, "password": api.token}),
        )
        from intacct_hook.hooks.divvy import DivvyHook

        yield DivvyHook()


def test_targets_cover_rules_default_account_and_every_divvy_option(divvy):
    settings = SyncSettings.from_variable({"default_gl_account": "6900"})
    targets = coding_targets(RULES, settings, divvy)
    by_source = {t.source: t for t in targets}
    assert by_source["mapping_rules.csv line 2"].gl_account == "6500"
    assert by_source["mapping_rules.csv line 2"].class_ == "C2"
    assert by_source["setting 'default_gl_account'"].gl_account == "6900"
    divvy_gl = [t for t in targets if t.source.startswith("Divvy custom field 'GL Account'")]
    assert divvy_gl and all(not t.blocking and t.gl_account for t in divvy_gl)
    assert any(t.location == "100" for t in targets if "'Location'" in t.source)
    # Configuration blocks the sync; Divvy data only warns.
    assert all(t.blocking for t in targets if t.source.startswith(("mapping", "setting")))


def test_a_dimension_without_a_divvy_field_is_not_expected_from_divvy(divvy):
    settings = SyncSettings.from_variable({"custom_field_names": {"department": None}})
    [rule] = [t for t in coding_targets(RULES, settings, None) if t.source.endswith("line 3")]
    assert "department" not in rule.may_come_from_divvy
    assert "location" in rule.may_come_from_divvy


def test_format_table_aligns_columns_and_shows_none_as_blank():
    text = format_table(
        [
            {"day": "2026-11-17", "count": 2, "why": None},
            {"day": "2026-11-18", "count": 10, "why": "held"},
        ],
        title="T",
    )
    lines = text.splitlines()
    assert lines[0] == "T"
    assert lines[1].split() == ["day", "count", "why"]
    # None is blank; lines carry no trailing padding.
    assert lines[3] == "2026-11-17  2" and lines[4] == "2026-11-18  10     held"
    assert format_table([], title="Nothing") == "Nothing: (none)"


def test_would_post_rows_and_ledger_summary_explain_every_state(tmp_path):
    ledger = Ledger.sqlite(tmp_path / "l.db")
    ledger.ensure_schema()
    day = date(2026, 11, 17)

    def staged(uuid, amount, state, reason=None):
        from datetime import UTC, datetime

        return StagedTransaction(
            uuid,
            "CLEAR",
            Decimal(amount),
            datetime(2026, 11, 17, 15, tzinfo=UTC),
            day,
            None,
            "Staples",
            {"uuid": uuid},
            state,
            reason,
        )

    ledger.stage(
        [
            staged("txr_r", "10.00", "ready"),
            staged("txr_h", "5.00", "held", "Not marked complete in Divvy"),
            staged("txr_s", "1.00", "skipped", "Pending authorization"),
        ],
        "run-1",
    )
    window = SyncWindow(day, day, 0, "America/Chicago", "params")
    rows = {r["uuid"]: r for r in would_post_rows(ledger, window)}
    assert rows["txr_r"]["action"] == "would create"
    assert (rows["txr_h"]["action"], rows["txr_h"]["why"]) == (
        "held",
        "Not marked complete in Divvy",
    )
    assert rows["txr_s"]["action"] == "skipped"
    summary = ledger_summary(ledger, window)
    assert {r["state"]: (r["count"], r["total"]) for r in summary["by_state"]} == {
        "ready": (1, "10.00"),
        "held": (1, "5.00"),
        "skipped": (1, "1.00"),
    }
    assert summary["by_date"]["2026-11-17"]["ready"] == {"count": 1, "total": "10.00"}


# --- wide tables: the log view shows about 120 characters ------------------------------------

REASON = (
    "Divvy transaction txr_unmapped000000000000000001: GL account '6250' requires the "
    "Department dimension, but the line has no department; add a Divvy Department value or a "
    "rule in mapping_rules.csv that sets one, and the next run posts it."
)


def _held_row(n: int, why: str = REASON) -> dict:
    return {
        "date": "2026-11-17",
        "uuid": f"txr_unmapped{n:019d}",
        "type": "AUTHORIZATION",
        "amount": "1234.56",
        "merchant": "The Very Long Merchant Name Co",
        "action": "held (unmapped)",
        "why": why,
    }


def test_a_wide_table_stays_within_120_characters_and_keeps_every_reason_whole():
    rows = [_held_row(1), _held_row(2, "Not marked complete in Divvy."), _held_row(3, "")]
    text = format_table(rows, title="Held, unmapped or failed (and why)")
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120, text
    assert all(line == line.rstrip() for line in lines)
    # Every value is there, none cut: the identifiers whole on their row, the reason in words.
    for row in rows:
        assert row["uuid"] in text
        assert " ".join(row["why"].split()) in " ".join(text.split()).replace("why: ", "")
    # The columns still line up under their headers.
    header, rule = lines[1], lines[2]
    starts = [header.index(name) for name in ("date", "uuid", "type", "amount", "merchant")]
    assert [n for n, ch in enumerate(rule) if ch == "-" and (n == 0 or rule[n - 1] == " ")] == (
        [*starts, header.index("action")]
    )
    row_line = next(line for line in lines if "txr_unmapped0000000000000000002" in line)
    assert row_line.index("txr_unmapped") == starts[1]
    assert row_line.index("AUTHORIZATION") == starts[2]


def test_a_huge_cell_is_cut_with_an_ellipsis_at_a_sane_length():
    text = format_table([_held_row(1, "word " * 4000)], title="T")
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 120
    assert len(lines) <= 15
    assert text.rstrip().endswith("…")


def test_many_columns_without_spaces_wrap_within_the_width():
    row = {f"column_{n}": "x" * 40 for n in range(6)}
    text = format_table([row])
    assert max(len(line) for line in text.splitlines()) <= 120, text
    assert "".join(text.split()).count("x") == 240  # wrapped, nothing lost
