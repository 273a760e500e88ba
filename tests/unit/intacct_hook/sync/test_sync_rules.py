"""The rules CSV: format, validation with line numbers, and matching."""

from __future__ import annotations

import pathlib

import pytest

from intacct_hook.sync.rules import (
    LineFacts,
    RulesError,
    RuleSet,
    intacct_id,
    load_rules,
    parse_rules,
)

ROOT = pathlib.Path(__file__).resolve().parents[4]
HEADER = "match_field,match_value,gl_account,location,department,class,project,note\n"


def problems_of(text: str) -> list[str]:
    with pytest.raises(RulesError) as err:
        parse_rules(text)
    return err.value.problems


@pytest.mark.parametrize("name", ["mapping_rules.csv", "mapping_rules.example.csv"])
def test_shipped_rule_files_are_valid(name):
    rules = load_rules(ROOT / "include" / name)
    assert len(rules) >= 8
    assert rules.source == name


def test_default_rules_code_the_demo_cases():
    rules = load_rules(ROOT / "include" / "mapping_rules.csv")
    marketing = rules.first_match(LineFacts({}, budget_name="Marketing"), "gl_account")
    meals = rules.first_match(LineFacts({}, mcc="5813"), "gl_account")
    fuel = rules.first_match(LineFacts({}, merchant="Shell Oil 123"), "gl_account")
    assert (marketing.values["gl_account"], meals.values["gl_account"]) == ("6500", "6300")
    assert fuel.values["gl_account"] == "6600"


def test_bad_match_field_is_reported_with_its_line_number_and_fix():
    text = "# comment line\n" + HEADER + "budget,Marketing,6500,,,,,\n\nbugdet,Sales,6100,,,,,\n"
    assert problems_of(text) == [
        "mapping_rules.csv line 5: match_field 'bugdet' is not one of custom_field:<name>, "
        "budget, mcc, merchant; fix the column or remove the line"
    ]


def test_all_errors_are_reported_at_once_each_with_its_line():
    text = HEADER + "\n".join(
        [
            "budget,,6500,,,,,",  # line 2: empty match_value
            "mcc,58xx,6300,,,,,",  # line 3: bad mcc
            "mcc,5814-5811,6300,,,,,",  # line 4: reversed range
            "merchant,Shell*,,,,,,",  # line 5: sets nothing
            "merchant,Chevron,6600 - Fuel,,,,,",  # line 6: ID with its name
            "custom_field:,x,6100,,,,,",  # line 7: custom field without a name
            "budget,Ops,6100,,,,,,extra",  # line 8: too many cells
        ]
    )
    problems = problems_of(text)
    assert [p.split(":", 1)[0] for p in problems] == [
        f"mapping_rules.csv line {n}" for n in range(2, 9)
    ]
    assert "match_value is empty" in problems[0]
    assert "mcc '58xx' is not a 4-digit code" in problems[1]
    assert "mcc '5814-5811'" in problems[2]
    assert "the rule sets nothing" in problems[3]
    assert "gl_account '6600 - Fuel' must be the Intacct ID alone (e.g. '6600')" in problems[4]
    assert "needs the custom field's name" in problems[5]
    assert "in double quotes" in problems[6]


def test_line_numbers_count_physical_lines_of_quoted_multiline_cells():
    text = HEADER + 'budget,Marketing,6500,,,,,"two\nline note"\nbudget,,6100,,,,,\n'
    assert problems_of(text)[0].startswith("mapping_rules.csv line 4:")


def test_an_unquoted_comma_is_refused_even_when_the_spill_is_an_empty_cell(tmp_path):
    # "Acme, Inc" unquoted in a row whose note is empty: nine cells for eight columns, the
    # ninth empty. Read as is, 'Inc' would become the GL account and 6100 the location.
    path = tmp_path / "team_rules.csv"
    path.write_text(HEADER + "merchant,Shell*,6600,,,,,\nmerchant,Acme, Inc,6100,,,,,\n")
    with pytest.raises(RulesError) as err:
        load_rules(path)
    assert err.value.problems == [
        "team_rules.csv line 3: 9 cells but the header has 8 columns, so values would shift "
        'into the wrong columns; put a value that contains a comma in double quotes (e.g. "Acme, '
        'Inc"), or remove the comma after the last column'
    ]


def test_a_quoted_comma_is_one_cell():
    rules = parse_rules(HEADER + 'merchant,"Acme, Inc",6100,,,,,"Office, misc"\n')
    assert (rules.rules[0].match_value, rules.rules[0].note) == ("Acme, Inc", "Office, misc")


def test_a_header_with_empty_trailing_columns_takes_rows_of_its_width():
    # Excel writes every row as wide as the widest one, the header included.
    rules = parse_rules(HEADER.rstrip("\n") + ",,\nmerchant,Shell*,6600,,,,,Fuel,,\n")
    assert rules.rules[0].values == {"gl_account": "6600"}


@pytest.mark.parametrize("quoted", [False, True])
def test_a_cell_over_the_csv_field_limit_is_a_rules_error_with_its_line(tmp_path, quoted):
    # Python's csv module refuses cells over 131,072 characters with an untyped csv.Error,
    # which the task would retry; it is a data problem to fix in the file.
    big = "x" * 200_000
    cell = f'"{big}"' if quoted else big
    path = tmp_path / "team_rules.csv"
    path.write_text(HEADER + "merchant,Shell*,6600,,,,,\n\nbudget,Ops,6100,,,,," + cell + "\n")
    with pytest.raises(RulesError) as err:
        load_rules(path)
    [problem] = err.value.problems
    assert problem.startswith("team_rules.csv line 4: a cell is longer than 131,072 characters")
    assert "a double quote that is never closed" in problem
    assert big not in str(err.value)


def test_an_unclosed_quote_swallowing_the_file_is_reported_at_its_line():
    text = HEADER + 'merchant,"Shell*,6600,,,,,\n' + "merchant,Amazon,6100,,,,,\n" * 20_000
    [problem] = problems_of(text)
    assert problem.startswith("mapping_rules.csv line 2: a cell is longer than")


def test_header_problems_name_the_columns():
    problems = problems_of("match_field,match_value,gl_acount,location,department,class,project\n")
    assert problems == [
        "mapping_rules.csv line 1: column 'gl_acount' is not known; rename it to one of "
        "gl_account or delete the column",
        "mapping_rules.csv line 1: missing column(s) gl_account; the header must be "
        "match_field,match_value,gl_account,location,department,class,project,note",
    ]


def test_no_header_at_all():
    assert problems_of("# only a comment\n") == [
        "mapping_rules.csv: no header row; the first row must be "
        "match_field,match_value,gl_account,location,department,class,project,note"
    ]


def test_a_line_that_can_never_apply_is_an_error():
    text = HEADER + "budget,Marketing,6500,,,,,\nBUDGET,marketing,6100,,,,,\n"
    assert problems_of(text) == [
        "mapping_rules.csv line 3: repeats the match of line 2 (budget 'marketing'); the first "
        "matching line wins, so this one never applies; merge the two lines or remove one"
    ]


def test_a_repeated_match_that_adds_a_dimension_is_allowed():
    rules = parse_rules(HEADER + "budget,Marketing,6500,,,,,\nbudget,Marketing,6100,,10,,,\n")
    assert len(rules) == 2


def test_note_column_is_optional_and_header_case_is_ignored():
    rules = parse_rules(
        "Match_Field,MATCH_VALUE,gl_account,location,department,class,project\n"
        "merchant,Uber*,6200,,,,\n"
    )
    assert rules.rules[0].values == {"gl_account": "6200"}
    assert rules.rules[0].note == ""


def test_missing_file_names_the_setting(tmp_path):
    with pytest.raises(RulesError, match="point the 'mapping_file' setting at it"):
        load_rules(tmp_path / "nope.csv")


def test_excel_bom_and_file_name_in_messages(tmp_path):
    path = tmp_path / "my_rules.csv"
    path.write_bytes(("\ufeff" + HEADER + "mcc,99999,6300,,,,,\n").encode("utf-8"))
    with pytest.raises(RulesError) as err:
        load_rules(path)
    assert err.value.problems[0].startswith("my_rules.csv line 2: mcc '99999'")


def test_empty_rule_file_with_header_is_valid():
    assert len(parse_rules(HEADER)) == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("6100 - Office Supplies", "6100"),
        ("P-100 - Website", "P-100"),
        ("6100 Office Supplies", "6100"),
        ("100: Headquarters", "100"),
        ("  C1  ", "C1"),
        ("6100", "6100"),
        ("", ""),
    ],
)
def test_intacct_id_is_the_leading_token(value, expected):
    assert intacct_id(value) == expected


RULES = parse_rules(
    HEADER
    + "\n".join(
        [
            "merchant,Shell*,6600,,,,,",
            "merchant,Amazon,6100,,,,,",
            "budget,Marketing,6500,,,,,",
            "budget,bgt_123,6200,,,,,",
            "mcc,5811-5814,6300,,,,,",
            "mcc,47*,6200,,,,,",
            "mcc,5734,6400,,,,,",
            "custom_field:Trip,Client visit,6250,,10,,,",
            "custom_field:Department,20,,,,C1,,",
        ]
    )
)


def gl_rule_line(**facts) -> int | None:
    rule = RULES.first_match(LineFacts(facts.pop("custom_fields", {}), **facts), "gl_account")
    return rule.line_no if rule else None


@pytest.mark.parametrize(
    ("facts", "line"),
    [
        ({"merchant": "SHELL OIL 5741"}, 2),
        ({"merchant": "Shel"}, None),
        ({"merchant": "amazon"}, 3),
        ({"merchant": "Amazon Web Services"}, None),  # exact unless the value ends with *
        ({"budget_name": "marketing"}, 4),
        ({"budget_name": "Marketing Events"}, None),
        ({"budget_uuid": "bgt_123"}, 5),
        ({"mcc": "5811"}, 6),
        ({"mcc": "5814"}, 6),
        ({"mcc": "5810"}, None),
        ({"mcc": "5815"}, None),
        ({"mcc": "4722"}, 7),
        ({"mcc": "5734"}, 8),
        ({"mcc": "57340"}, None),
        ({"custom_fields": {"Trip": ("client VISIT",)}}, 9),
        ({"custom_fields": {"trip": ("Client visit",)}}, 9),  # field names ignore case too
        ({"custom_fields": {"Trip": ("Conference",)}}, None),
        ({"merchant": "Shell", "budget_name": "Marketing"}, 2),  # file order decides
    ],
)
def test_matching(facts, line):
    assert gl_rule_line(**facts) == line


def test_custom_field_rule_matches_the_value_id_or_the_whole_value():
    facts = LineFacts({"Department": ("20 - Engineering",)})
    assert RULES.first_match(facts, "class").line_no == 10
    assert RULES.first_match(LineFacts({"Department": ("10 - Sales",)}), "class") is None


def test_first_match_only_considers_rules_that_set_the_dimension():
    facts = LineFacts({"Trip": ("Client visit",)}, merchant="Shell")
    assert RULES.first_match(facts, "gl_account").line_no == 2
    assert RULES.first_match(facts, "department").line_no == 9


def test_empty_ruleset_matches_nothing():
    assert RuleSet().first_match(LineFacts({}, merchant="x"), "gl_account") is None
