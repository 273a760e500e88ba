"""What the dimension push reads: every dimension object and GL accounts with their STATUS,
names and categories (display values back, raw values in readByQuery filters)."""

from __future__ import annotations

import pytest
from gw_wire import call, descriptions, errornos, read_by_query, results

from sandbox.intacct_gateway.testing import running_gateway


def _rows(gw, obj, query="", fields="*"):
    [result] = results(call(gw.url, read_by_query(obj, query, fields=fields)))
    assert result.findtext("status") == "success", descriptions(result)
    return [{c.tag: c.text or "" for c in row} for row in result.find("data")]


@pytest.mark.parametrize(
    ("obj", "id_field", "name_field", "expected"),
    [
        ("LOCATION", "LOCATIONID", "NAME", {"100": "Headquarters", "200": "Remote"}),
        ("DEPARTMENT", "DEPARTMENTID", "TITLE", {"10": "Sales", "20": "Engineering"}),
        ("CLASS", "CLASSID", "NAME", {"C1": "Core", "C2": "Growth"}),
        ("PROJECT", "PROJECTID", "NAME", {"P-100": "Website Relaunch"}),
        ("GLACCOUNT", "ACCOUNTNO", "TITLE", {"6100": "Office Supplies", "6999": "Old Expenses"}),
    ],
)
def test_dimension_objects_carry_id_name_and_status(gw, obj, id_field, name_field, expected):
    rows = {r[id_field]: r for r in _rows(gw, obj)}
    for record_id, name in expected.items():
        assert rows[record_id][name_field] == name
        assert rows[record_id]["STATUS"] in ("active", "inactive")
    active = {r[id_field] for r in _rows(gw, obj, "STATUS = 'T'", f"{id_field},STATUS")}
    inactive = {r[id_field] for r in _rows(gw, obj, "STATUS = 'F'", f"{id_field},STATUS")}
    assert active | inactive == set(rows) and not active & inactive


def test_gl_account_categories_read_and_filter(gw):
    rows = {r["ACCOUNTNO"]: r for r in _rows(gw, "GLACCOUNT")}
    assert rows["6200"]["CATEGORY"] == "Travel & Entertainment"
    assert rows["6100"]["CATEGORY"] == "Operating Expenses"
    assert rows["2150"]["CATEGORY"] == "Credit Card Liabilities"
    travel = _rows(gw, "GLACCOUNT", "CATEGORY = 'Travel & Entertainment'", "ACCOUNTNO")
    assert {r["ACCOUNTNO"] for r in travel} == {"6200", "6250", "6300"}
    expense = _rows(gw, "GLACCOUNT", "ACCOUNTTYPE = 'I' AND STATUS = 'T'", "ACCOUNTNO")
    assert "2150" not in {r["ACCOUNTNO"] for r in expense} and len(expense) == 8


def test_dimension_read_without_permission_is_refused(seed):
    seed["companies"]["ACME-DEMO"]["users"]["Divvy"]["roles"] = []
    seed["companies"]["ACME-DEMO"]["users"]["Divvy"]["permissions"] = ["READ_BY_QUERY:location"]
    with running_gateway(seed) as gw:
        [result] = results(call(gw.url, read_by_query("PROJECT")))
        assert errornos(result) == ["PL04000005"]
