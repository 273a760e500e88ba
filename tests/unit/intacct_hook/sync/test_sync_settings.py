"""SyncSettings: defaults from the setup guide, and a precise error for every bad key."""

from __future__ import annotations

import dataclasses
import json
import pathlib
from zoneinfo import ZoneInfo

import pytest

from intacct_hook.paths import base_dir
from intacct_hook.sync.settings import INTERNAL_FIELDS, SettingsError, SyncSettings

# One invalid value per key with a fragment its message must contain. Keyed by every field, so a
# new setting without a validation test fails test_every_key_has_an_invalid_case.
INVALID = {
    "card_account_id": ("", "non-empty string"),
    "divvy_gl_account_title": (42, "non-empty string"),
    "divvy_gl_account_no": ("  ", "non-empty string or null"),
    "mapping_file": ([], "non-empty string"),
    "lookback_days": (-1, "from 0 to 400"),
    "timezone": ("Central Time", "not an IANA time zone name"),
    "hold_incomplete": ("yes", "true or false"),
    "skip_already_synced": (1, "true or false"),
    "allow_foreign_currency": ("yes", "true or false"),
    "reconcile_mode": ("ignore", "one of fail, warn"),
    "batch_size": (101, "from 1 to 100"),
    "claim_lease_minutes": (1, "from 5 to 1440"),
    "intacct_concurrency": (9, "from 1 to 8"),
    "custom_field_names": ({"gl": "GL"}, "unknown dimension 'gl'"),
    "default_gl_account": ("", "non-empty string or null"),
    "card_expiry_margin_days": (True, "whole number"),
    "ledger_conn_id": ("", "non-empty string or null"),
    "ledger_path": ("", "non-empty string"),
    "closed_period_policy": ("hold_it", "did you mean 'hold'?"),
    "recode_policy": ("report", "did you mean 'report_only'?"),
    "dimension_push": ({"dimensions": ["gl"]}, "dimension_push.dimensions has unknown 'gl'"),
    "receipts_enabled": ("true", "true or false"),
    "receipts_max_mb": (0, "from 0.001 to 100"),
    "receipts_allowed_types": (["p df"], "is not a file extension"),
    "receipts_folder": ("", "non-empty string"),
    "receipts_max_checks": (0, "from 1 to 100000"),
    "receipts_recheck_days": (-1, "from 0 to 366"),
    "default_location": ("", "non-empty string or null"),
    "accounts": ([], "non-empty list of Divvy accounts"),
}


def test_receipts_are_off_by_default_with_documented_limits():
    s = SyncSettings.from_variable({})
    assert s.receipts_enabled is False
    assert (s.receipts_max_mb, s.receipts_max_bytes) == (5.0, 5 * 1024 * 1024)
    assert s.receipts_allowed_types == ("pdf", "jpg", "jpeg", "png", "gif")
    assert s.receipts_folder == "Divvy Receipts"


def test_receipt_types_are_extensions_lower_case_once_and_read_back_equal():
    s = SyncSettings.from_variable(
        {"receipts_enabled": True, "receipts_allowed_types": ["PDF", ".jpg", "pdf"]}
    )
    assert s.receipts_allowed_types == ("pdf", "jpg")
    assert SyncSettings.from_variable(json.loads(json.dumps(s.to_public_dict()))) == s
    with pytest.raises(SettingsError, match="non-empty list of file extensions"):
        SyncSettings.from_variable({"receipts_allowed_types": []})
    with pytest.raises(SettingsError, match="must be a number"):
        SyncSettings.from_variable({"receipts_max_mb": "5 MB"})


@pytest.mark.parametrize("value", [None, "", "  ", "{}", {}])
def test_empty_variable_means_the_setup_guide_defaults(value):
    s = SyncSettings.from_variable(value)
    assert (s.card_account_id, s.divvy_gl_account_title) == ("Divvy CC Object", "Divvy GL Account")
    assert s.divvy_gl_account_no is None and dict(s.retired) == {}
    assert s.mapping_file == "include/mapping_rules.csv"
    assert (s.lookback_days, s.timezone, s.batch_size, s.card_expiry_margin_days) == (
        14,
        "America/Chicago",
        50,
        30,
    )
    assert s.hold_incomplete is True and s.skip_already_synced is True
    assert s.allow_foreign_currency is False
    assert s.reconcile_mode == "fail"
    assert s.closed_period_policy == "fail"  # as before the policy existed
    assert s.recode_policy == "reverse_and_repost"
    assert dict(s.custom_field_names) == {
        "gl_account": "GL Account",
        "location": "Location",
        "department": "Department",
        "class": "Class",
        "project": "Project",
    }
    assert s.default_gl_account is None and s.ledger_conn_id is None
    assert s.zone == ZoneInfo("America/Chicago")


def test_json_text_and_dict_give_the_same_settings():
    value = {"lookback_days": 30, "timezone": "UTC", "reconcile_mode": "warn", "batch_size": 100}
    assert SyncSettings.from_variable(json.dumps(value)) == SyncSettings.from_variable(value)
    s = SyncSettings.from_variable(value)
    assert (s.lookback_days, s.timezone, s.reconcile_mode, s.batch_size) == (30, "UTC", "warn", 100)


def test_every_key_has_an_invalid_case():
    # Not keys: filled by validation or by for_account.
    assert set(INVALID) == {f.name for f in dataclasses.fields(SyncSettings)} - INTERNAL_FIELDS


def test_the_sign_in_keys_are_retired_not_refused():
    # The connection is the one source of the sender, user and entity. A Variable written for an
    # earlier version still loads; the keys are kept aside for preflight to report, never used.
    old = {"sender_id": "bill.com", "ws_user_id": "Divvy", "entity_id": "E200", "lookback_days": 7}
    s = SyncSettings.from_variable(old)
    assert dict(s.retired) == {"sender_id": "bill.com", "ws_user_id": "Divvy", "entity_id": "E200"}
    assert s.lookback_days == 7
    assert not {"sender_id", "ws_user_id", "entity_id"} & {
        f.name for f in dataclasses.fields(SyncSettings)
    }


@pytest.mark.parametrize("key", sorted(INVALID))
def test_each_invalid_key_is_named_with_its_problem(key):
    value, fragment = INVALID[key]
    with pytest.raises(SettingsError) as err:
        SyncSettings.from_variable({key: value})
    assert len(err.value.problems) == 1
    problem = err.value.problems[0]
    assert key in problem and fragment in problem, problem
    assert "divvy_intacct_settings" in str(err.value)


def test_all_problems_are_reported_at_once():
    bad = {key: value for key, (value, _) in INVALID.items()} | {"lookback_day": 3}
    with pytest.raises(SettingsError) as err:
        SyncSettings.from_variable(bad)
    assert len(err.value.problems) == len(INVALID) + 1


def test_unknown_key_is_an_error_with_a_suggestion():
    with pytest.raises(SettingsError) as err:
        SyncSettings.from_variable({"lookback_day": 30})
    assert err.value.problems == [
        "'lookback_day' is not a setting; did you mean 'lookback_days'? valid keys: "
        + ", ".join(
            sorted(
                f.name for f in dataclasses.fields(SyncSettings) if f.name not in INTERNAL_FIELDS
            )
        )
    ]


def test_a_password_in_the_variable_is_sent_to_the_connection():
    with pytest.raises(SettingsError) as err:
        SyncSettings.from_variable({"password": "hunter2"})
    (problem,) = err.value.problems
    assert "Airflow connection" in problem and "hunter2" not in str(err.value)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("{lookback_days: 3}", "not valid JSON"), ("[1, 2]", "must be a JSON object"), (7, "got int")],
)
def test_a_value_that_is_not_a_json_object_is_rejected(value, fragment):
    with pytest.raises(SettingsError, match=fragment):
        SyncSettings.from_variable(value)


@pytest.mark.parametrize(("size", "ok"), [(0, False), (1, True), (100, True), (101, False)])
def test_batch_size_bounds(size, ok):
    if ok:
        assert SyncSettings.from_variable({"batch_size": size}).batch_size == size
    else:
        with pytest.raises(SettingsError, match="'batch_size' must be from 1 to 100"):
            SyncSettings.from_variable({"batch_size": size})


def test_custom_field_names_override_keeps_the_other_defaults_and_null_disables():
    s = SyncSettings.from_variable({"custom_field_names": {"class": "Cost Class", "project": None}})
    assert s.field_name("class") == "Cost Class"
    assert s.field_name("project") is None
    assert s.field_name("gl_account") == "GL Account"


def test_custom_field_name_must_be_text():
    with pytest.raises(SettingsError, match=r"custom_field_names\.location must be a Divvy"):
        SyncSettings.from_variable({"custom_field_names": {"location": ""}})


def test_paths_resolve_against_the_base_folder_unless_absolute(tmp_path):
    s = SyncSettings.from_variable({"ledger_path": str(tmp_path / "l.db")})
    assert s.mapping_path() == base_dir() / "include" / "mapping_rules.csv"
    assert s.mapping_path().is_file()  # run from this checkout: its include/mapping_rules.csv
    assert s.mapping_path(pathlib.Path("/deploy")) == pathlib.Path(
        "/deploy/include/mapping_rules.csv"
    )
    assert s.sqlite_ledger_path() == tmp_path / "l.db"


def test_public_dict_is_json_and_round_trips():
    s = SyncSettings.from_variable({"timezone": "Europe/London", "default_gl_account": "6900"})
    public = s.to_public_dict()
    assert SyncSettings.from_variable(json.dumps(public)) == s
    old = SyncSettings.from_variable({"entity_id": "E100"})
    assert old.to_public_dict()["entity_id"] == "E100"
    assert SyncSettings.from_variable(old.to_public_dict()) == old


def test_settings_are_frozen():
    s = SyncSettings.from_variable(None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.batch_size = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.custom_field_names["class"] = "x"  # type: ignore[index]


@pytest.mark.parametrize("key", ["card_account_id", "divvy_gl_account_no", "default_gl_account"])
def test_a_text_setting_intacct_could_not_be_sent_is_refused(key):
    # Every record would otherwise fail to post, one by one, for the same setting.
    with pytest.raises(SettingsError, match=rf"'{key}'.*U\+000B"):
        SyncSettings.from_variable({key: "Divvy\x0bCC"})


@pytest.mark.parametrize("policy", ["fail", "hold", "post_to_first_open_day"])
def test_each_closed_period_policy_is_accepted(policy):
    assert SyncSettings.from_variable({"closed_period_policy": policy}).closed_period_policy == (
        policy
    )


def test_a_wrong_closed_period_policy_says_what_each_one_does():
    with pytest.raises(SettingsError) as err:
        SyncSettings.from_variable({"closed_period_policy": None})
    [problem] = err.value.problems
    assert "must be one of fail, hold, post_to_first_open_day, got None" in problem
    assert "'hold' holds it until the period reopens" in problem


# --- dimension_push ---------------------------------------------------------------------------


def test_dimension_push_defaults_push_every_dimension_with_a_field():
    push = SyncSettings.from_variable({}).dimension_push
    assert push.dimensions == ("gl_account", "location", "department", "class", "project")
    assert (push.accounts, push.account_types, push.categories) == ((), ("incomestatement",), ())
    assert push.dry_run is False
    # a dimension the mapping reads from no field is not pushed by default ...
    s = SyncSettings.from_variable({"custom_field_names": {"class": None}})
    assert "class" not in s.dimension_push.dimensions
    # ... and naming it explicitly is a problem
    with pytest.raises(SettingsError, match=r"custom_field_names\.class is null"):
        SyncSettings.from_variable(
            {"custom_field_names": {"class": None}, "dimension_push": {"dimensions": ["class"]}}
        )


def test_dimension_push_reads_back_from_its_public_dict():
    value = {
        "dimension_push": {
            "dimensions": ["gl_account", "project"],
            "gl_accounts": {"account_types": ["incomestatement"], "categories": ["Travel"]},
            "dry_run": True,
        }
    }
    s = SyncSettings.from_variable(value)
    assert s.dimension_push.dimensions == ("gl_account", "project")
    assert s.dimension_push.categories == ("Travel",) and s.dimension_push.dry_run is True
    assert SyncSettings.from_variable(s.to_public_dict()) == s
    listed = SyncSettings.from_variable({"dimension_push": {"gl_accounts": {"accounts": ["6100"]}}})
    assert listed.dimension_push.accounts == ("6100",)
    assert listed.dimension_push.account_types == ()  # a list is not narrowed by the default type


def test_dimension_push_lists_every_problem():
    with pytest.raises(SettingsError) as info:
        SyncSettings.from_variable(
            {
                "dimension_push": {
                    "dimension": [],
                    "dry_run": "no",
                    "gl_accounts": {
                        "accounts": ["6100", ""],
                        "account_types": ["expense"],
                        "category": "x",
                    },
                }
            }
        )
    text = str(info.value)
    assert "dimension_push.dimension is not a setting" in text
    assert "dimension_push.dry_run must be true or false" in text
    assert "dimension_push.gl_accounts.accounts must be a list of non-empty strings" in text
    assert "account_types has 'expense'; use balancesheet or incomestatement" in text
    assert "dimension_push.gl_accounts.category is not a setting" in text
    assert "give either 'accounts' (a list) or 'account_types'/'categories'" in text
