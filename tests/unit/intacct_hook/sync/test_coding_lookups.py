"""The map step's coder decides by look-ups (compiled rules, sub-caches, keys decoded together);
each must decide exactly what the plain rules do: ``RuleSet.first_match`` per dimension, the
custom field first, then the rules, then the defaults, checked against the active IDs."""

from __future__ import annotations

import json
import pathlib
import random
from typing import Any

import pytest

from intacct_hook.sync.coding import (
    CARD_DEFAULT_LOCATION,
    DEFAULT_ACCOUNT,
    LineMapper,
    StoredMapper,
)
from intacct_hook.sync.dimensions import DEFAULT_CUSTOM_FIELD_NAMES, DIMENSIONS, ID_COLUMNS
from intacct_hook.sync.map_inputs import facts_key, facts_of
from intacct_hook.sync.rules import LineFacts, RuleSet, load_rules, parse_rules

ROOT = pathlib.Path(__file__).resolve().parents[4]

#: Every kind of pattern, in cases and spacings the matching must fold alike.
EDGE_RULES = parse_rules(
    "match_field,match_value,gl_account,location,department,class,project,note\n"
    "merchant,Shell*,6600,,,,,\n"
    "merchant,ACME Corp,6100,,20,,,\n"
    "merchant,*,,,,,P-200,any merchant at all\n"
    "budget,Marketing,6500,200,10,C2,,\n"
    "budget,bgt_SALES,6900,,,,,a budget uuid is compared as it is\n"
    "budget,Ev*,,300,,,,\n"
    "mcc,5811-5814,6300,,,,,\n"
    "mcc,58*,6400,,30,,,\n"
    "mcc,4121,,,,C1,,\n"
    "custom_field:Trip,Client visit,6250,,10,,,\n"
    "custom_field:TRIP,Off*,,,30,,,\n"
    "custom_field:Department,20,,,,C1,,\n"
    "custom_field:Project,P-1*,,,,,P-100,\n"
    "budget,Marketing,,,,,P-100,adds a project to line 5's match\n",
    source="edge.csv",
)

VALUES = {
    "merchant": [None, "", "  ", "Shell Oil 123", " shell", "SHELL*", "acme corp", " ACME CORP ",
                 "ACME Corporation", "Straße", "STRASSE", "Uber"],
    "budget_name": [None, "", "marketing", " MARKETING ", "Marketing Ops", "Events", "ev",
                    "bgt_SALES", "Sales"],
    "budget_uuid": [None, "", "bgt_SALES", "bgt_sales", "bgt_ops", "Ev*", "ev*"],
    "mcc": [None, "", "5811", " 5814 ", "5815", "5810", "58", "5899", "4121", "41 21", "5812a",
            "0000", "٥٨١٢"],
    "field_value": ["", " ", "Client visit", "client VISIT", "Client visit - 2025", "Off-site",
                    "offsite", "20", "20 - Engineering", "20: Eng", "30", "P-100 - Website",
                    "P-1", "6100 - Office", "6100", "6999", "C1 - Core", "100 - HQ", "100",
                    "Nul\x00here", "7777"],
    "field_name": ["Trip", "trip", "TRIP", "Department", "department", "Project", "GL Account",
                   "gl account", "Location", "Class", "Memo"],
}  # fmt: skip


def random_fields(rnd: random.Random) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for _ in range(rnd.randint(0, 5)):
        values = [rnd.choice(VALUES["field_value"]) for _ in range(rnd.choice((0, 1, 1, 1, 2)))]
        fields[rnd.choice(VALUES["field_name"])] = values
    return fields


def random_facts(rnd: random.Random) -> dict[str, Any]:
    return {
        "custom_fields": random_fields(rnd),
        "budget_name": rnd.choice(VALUES["budget_name"]),
        "budget_uuid": rnd.choice(VALUES["budget_uuid"]),
        "mcc": rnd.choice(VALUES["mcc"]),
        "merchant": rnd.choice(VALUES["merchant"]),
    }


RULE_SETS = {
    "edge": EDGE_RULES,
    "shipped": load_rules(ROOT / "include" / "mapping_rules.csv"),
    "example": load_rules(ROOT / "include" / "mapping_rules.example.csv"),
    "empty": RuleSet((), "none.csv"),
}


@pytest.mark.parametrize("name", sorted(RULE_SETS))
def test_compiled_rules_match_as_first_match_does_for_every_dimension(name):
    rules = RULE_SETS[name]
    rnd = random.Random(f"first-matches-{name}")
    for _ in range(3000):
        facts = facts_of(facts_key(**random_facts(rnd)))
        expected = {d: r for d in DIMENSIONS if (r := rules.first_match(facts, d)) is not None}
        assert rules.first_matches(facts) == expected, facts


def test_compiled_rules_see_the_facts_as_given_too():
    # LineFacts built by hand (not cleaned): untrimmed texts, empty selections, None values.
    facts = LineFacts(
        {"trip": ("", " client visit "), "TRIP": ("Offsite",)},
        budget_name="  Marketing",
        budget_uuid="bgt_SALES",
        mcc=" 5812 ",
        merchant=" shell station",
    )
    expected = {d: r for d in DIMENSIONS if (r := EDGE_RULES.first_match(facts, d)) is not None}
    assert EDGE_RULES.first_matches(facts) == expected
    assert {d: r.line_no for d, r in expected.items()} == {
        "gl_account": 2,
        "location": 5,
        "department": 5,
        "class": 5,
        "project": 4,
    }


def reference_coding(mapper: LineMapper, facts: LineFacts) -> dict[str, Any]:
    """The coder's decisions, made the plain way: per dimension the custom field, else
    ``first_match``, else the default; nothing cached."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for dim in DIMENSIONS:
        name = mapper.field_names.get(dim)
        found = None
        if name:
            selected = facts.custom_values(name)
            if selected:
                found = mapper._from_custom_field(name, selected)
        if found is None:
            rule = mapper.rules.first_match(facts, dim)
            if rule is not None:
                found = (rule.values[dim], rule.provenance, None)
            elif dim == "gl_account" and mapper.default_gl_account:
                found = (mapper.default_gl_account, DEFAULT_ACCOUNT, None)
            elif dim == "location" and mapper.card_default_location:
                found = (mapper.card_default_location, CARD_DEFAULT_LOCATION, None)
            else:
                found = (None, None, None)
        value, rule_text, problem = found
        active = mapper.valid_ids.get(dim)
        if problem is None and value is not None and active is not None and value not in active:
            problem = mapper._inactive(dim, value, rule_text)
        if problem:
            problems.append(problem)
        values[ID_COLUMNS[dim]] = value
        values[f"{dim}_rule"] = rule_text
    if values["gl_account_no"] is None and not problems:
        problems.append(mapper._no_gl_reason(facts))
    required = mapper._missing_required(values) if mapper.required_by_account else ()
    return {"values": values, "problem": "; ".join(problems) or None, "required": required}


def coding_of(coded: Any) -> dict[str, Any]:
    return {"values": coded.values, "problem": coded.problem, "required": coded.required}


MAPPER_OPTIONS = [
    {},
    {
        "default_gl_account": "6900",
        "card_default_location": "100",
        "valid_ids": {
            "gl_account": {"6100", "6250", "6300", "6400", "6500", "6600", "6900"},
            "location": {"100", "200"},
            "department": {"10", "20"},
            "class": {"C1"},
        },
        "required_dimensions": {"6250": {"department"}, "6300": {"location", "task"}},
    },
    {
        "field_names": {**DEFAULT_CUSTOM_FIELD_NAMES, "department": None, "gl_account": "Trip"},
        "card_default_location": "300",
        "valid_ids": {"project": {"P-100"}},
    },
]


@pytest.mark.parametrize("options", range(len(MAPPER_OPTIONS)))
@pytest.mark.parametrize("name", ["edge", "shipped"])
def test_each_facts_key_is_coded_as_the_plain_rules_decide(name, options):
    kw = {"field_names": DEFAULT_CUSTOM_FIELD_NAMES, "default_gl_account": None}
    kw |= {"card_default_location": None, "valid_ids": None, "required_dimensions": None}
    kw |= MAPPER_OPTIONS[options]
    rnd = random.Random(f"coding-{name}-{options}")
    keys = [facts_key(**random_facts(rnd)) for _ in range(1500)]
    shared = LineMapper(RULE_SETS[name], **kw)
    # Half of the keys coded first, in another order: the sub-caches fill in another order
    # than the reference meets the facts.
    for key in keys[::2]:
        shared.coded(key)
    for key in reversed(keys):
        assert coding_of(shared.coded(key)) == reference_coding(shared, facts_of(key)), key


def test_facts_and_their_key_are_coded_alike():
    # map_lines codes LineFacts, the map step their stored key: one coder, the same coding.
    mapper = LineMapper(EDGE_RULES, DEFAULT_CUSTOM_FIELD_NAMES, "6900", "100", None)
    rnd = random.Random("facts-and-keys")
    for i in range(1000):
        key = facts_key(**random_facts(rnd))
        facts = facts_of(key)
        assert mapper.coded_facts(("facts", i), facts) == mapper.coded(key)


@pytest.mark.parametrize(
    "text",
    [
        '[[["GL Account",["6100"]]],null,null,null',  # not JSON
        "[[],null,null,null,null],[[],null,null,null,null]",  # two values in one text
        "[[],null,null,null,null] ",  # trailing whitespace: json.loads accepts it
        ' [[["GL Account",["6100"]]],null,null,null,null]',  # leading whitespace, too
        # Two broken texts that would read as two sets of facts if joined into one document
        # (the first's open string swallowing the comma between them).
        '[[],"x]',
        '[",null,null,null],[[],null,null,null,null]',
    ],
)
def test_a_facts_key_is_read_as_json_loads_reads_it(text):
    mapper = LineMapper(EDGE_RULES, DEFAULT_CUSTOM_FIELD_NAMES, None, None, None)
    try:
        fields, *facts = json.loads(text)
    except ValueError as alone:
        with pytest.raises(ValueError) as coded:
            mapper.coded(text)
        assert str(coded.value) == str(alone)
    else:
        assert mapper.coded(text) == mapper._code(dict(fields), *facts)


def test_a_page_of_verdicts_is_each_transactions_verdict():
    # verdicts() codes a one-line transaction without verdict()'s loop; the same verdict.
    kw = {"card_default_location": "100", "valid_ids": MAPPER_OPTIONS[1]["valid_ids"]}
    kw |= {"required_dimensions": MAPPER_OPTIONS[1]["required_dimensions"]}
    rnd = random.Random("verdicts")
    page = []
    for i in range(600):
        lines = [
            [f"txr_{i}_{n}", f"{n + 1}.00", rnd.choice([None, "memo"]), key]
            for n in range(rnd.choice((1, 1, 1, 2, 3)))
            for key in (facts_key(**random_facts(rnd)),)
        ]
        page.append((f"txr_{i}", lines))
    expected = StoredMapper(EDGE_RULES, **kw)
    verdicts = StoredMapper(EDGE_RULES, **kw).verdicts(page)
    assert verdicts == [expected.verdict(uuid, lines) for uuid, lines in page]
    assert {v.state for v in verdicts} == {"ready", "unmapped"}
    assert any(len(v.lines) == 1 and v.state == "unmapped" for v in verdicts)
