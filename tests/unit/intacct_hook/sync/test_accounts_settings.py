"""Several Divvy accounts (issue 11, part 5): the settings' ``accounts`` list, each account's
settings, and the names derived from it."""

from __future__ import annotations

import json
import pathlib

import pytest

from intacct_hook.sync.accounts import (
    DivvyAccount,
    account_dag_id,
    account_of_dag_id,
    accounts_in_variable,
)
from intacct_hook.sync.settings import SettingsError, SyncSettings

TWO = {
    "lookback_days": 3,
    "ledger_path": "var/ledger.db",
    "accounts": [
        {"name": "east", "card_account_id": "Divvy CC East", "default_location": "100"},
        {
            "name": "west",
            "divvy_conn_id": "divvy_w",
            "intacct_conn_id": "intacct_west",
            "entity_id": "E200",
            "card_account_id": "Divvy CC West",
            "mapping_file": "include/west_rules.csv",
            "lookback_days": 5,
        },
    ],
}


def test_each_account_is_the_top_level_settings_with_its_own_keys_replacing_them():
    s = SyncSettings.from_variable(TWO)
    assert [a.name for a in s.accounts] == ["east", "west"]
    east, west = s.for_account("east"), s.for_account("west")
    assert (east.card_account_id, east.default_location, east.lookback_days) == (
        "Divvy CC East",
        "100",
        3,  # the top level's
    )
    assert (west.card_account_id, west.mapping_file, west.lookback_days) == (
        "Divvy CC West",
        "include/west_rules.csv",
        5,
    )
    assert west.default_location is None  # the card's default location, read from Intacct
    # Connections: the account's, with defaults that say which account they belong to.
    assert east.account == DivvyAccount("east", divvy_conn_id="divvy_east")
    assert (west.account.divvy_conn_id, west.account.intacct_conn_id) == ("divvy_w", "intacct_west")
    assert west.account.entity_id == "E200"
    # Each account's own part of the shared ledger.
    assert (east.ledger_path, west.ledger_path) == ("var/ledger.east.db", "var/ledger.west.db")
    assert (east.account.schema, west.account.schema) == (
        "divvy_intacct_east",
        "divvy_intacct_west",
    )
    # An account's settings list no accounts of their own, and say whose they are.
    assert east.accounts == () and east.to_public_dict()["account"]["name"] == "east"


def test_the_variable_reads_back_into_equal_settings_with_its_accounts():
    s = SyncSettings.from_variable(TWO)
    assert SyncSettings.from_variable(json.loads(json.dumps(s.to_public_dict()))) == s
    # Without accounts the public dict has no such key (a Variable written by an older
    # version reads back the same).
    assert "accounts" not in SyncSettings.from_variable({}).to_public_dict()


def test_an_account_entry_is_validated_like_the_variable_and_named_in_each_problem():
    bad = {
        "accounts": [
            {"name": "east", "batch_size": 0, "lookback_dayz": 3},
            {"name": "West"},
            {"name": "north", "divvy_conn_id": "bad id!", "entity_id": " E1"},
            "south",
        ]
    }
    with pytest.raises(SettingsError) as exc:
        SyncSettings.from_variable(bad)
    text = "\n".join(exc.value.problems)
    assert "accounts[1].name must be 1-30 lower-case letters" in text
    assert "accounts[north].divvy_conn_id must be an Airflow connection id" in text
    assert "accounts[north].entity_id must be an Intacct entity ID" in text
    assert "accounts[3] must be an object" in text
    # The first account's own keys are checked once the list itself is sound.
    with pytest.raises(SettingsError) as exc:
        SyncSettings.from_variable({"accounts": bad["accounts"][:1]})
    text = "\n".join(exc.value.problems)
    assert "accounts[east]: 'batch_size' must be from 1 to 100, got 0" in text
    assert "accounts[east]: 'lookback_dayz' is not a setting; did you mean 'lookback_days'?" in text


@pytest.mark.parametrize(
    ("accounts", "says"),
    [
        ([{"name": "a"}, {"name": "a", "card_account_id": "x"}], "share the same name"),
        (
            [{"name": "a", "divvy_conn_id": "d"}, {"name": "b", "divvy_conn_id": "d"}],
            "would sync every transaction twice",
        ),
        ([{"name": "a"}, {"name": "b"}], "share the same Intacct card"),
        (
            [
                {"name": "a", "ledger_path": "var/one.db"},
                {"name": "b", "ledger_path": "var/one.db", "card_account_id": "x"},
            ],
            "own ledger file",
        ),
        (
            [{"name": "a", "ledger_schema": "s"}, {"name": "b", "ledger_schema": "s"}],
            "share the same ledger_schema",
        ),
    ],
)
def test_two_accounts_cannot_share_what_would_post_or_count_twice(accounts, says):
    with pytest.raises(SettingsError, match=says):
        SyncSettings.from_variable({"accounts": accounts})


def test_the_same_card_in_another_entity_or_company_is_another_card():
    s = SyncSettings.from_variable(
        {"accounts": [{"name": "a", "entity_id": "E1"}, {"name": "b", "entity_id": "E2"}]}
    )
    assert {a.entity_id for a in s.accounts} == {"E1", "E2"}
    s = SyncSettings.from_variable(
        {"accounts": [{"name": "a"}, {"name": "b", "intacct_conn_id": "intacct_other"}]}
    )
    assert len(s.accounts) == 2


@pytest.mark.parametrize("key", ["ledger_conn_id", "sender_id", "ws_user_id"])
def test_what_every_account_shares_or_the_connection_holds_is_refused_per_account(key):
    with pytest.raises(SettingsError, match=rf"accounts\[a\]\.{key}"):
        SyncSettings.from_variable({"accounts": [{"name": "a", key: "x"}]})


def test_an_account_the_settings_no_longer_list_is_a_clear_error():
    s = SyncSettings.from_variable(TWO)
    with pytest.raises(SettingsError, match=r"no account 'north' .*'east', 'west'"):
        s.for_account("north")


def test_a_ledger_file_given_to_an_account_is_used_as_given():
    s = SyncSettings.from_variable(
        {"accounts": [{"name": "main", "ledger_path": "var/divvy_intacct_ledger.db"}]}
    )
    # The way to keep the history of a single-account ledger when moving to accounts.
    main = s.for_account("main")
    assert main.ledger_path == "var/divvy_intacct_ledger.db"
    assert main.sqlite_ledger_path(pathlib.Path("/srv")) == pathlib.Path(
        "/srv/var/divvy_intacct_ledger.db"
    )


def test_the_dag_file_never_fails_on_the_variable_it_builds_what_it_can_read():
    # A DAG file that fails to import has its DAGs marked stale: their schedules stop with no
    # failed task to alert anyone. So the list is read leniently; the tasks report problems.
    assert accounts_in_variable(None) == () and accounts_in_variable("") == ()
    assert accounts_in_variable('{"lookback_days": 3}') == ()
    # Unreadable JSON: no accounts, so the single-account DAGs are built and fail loudly.
    assert accounts_in_variable('{"accounts": [{"name": "east"},]}') == ()
    assert accounts_in_variable({"accounts": {}}) == ()
    # Another key being wrong is the tasks' to report, not a reason to drop the DAGs.
    names = accounts_in_variable({"lookback_days": "x", "accounts": [{"name": "east"}]})
    assert [a.name for a in names] == ["east"]
    # One bad entry, or two of one name, leaves the others' DAGs in place.
    listed = [{"name": "East"}, {"name": "west"}, {"name": "dup"}, {"name": "dup"}, "north"]
    assert [a.name for a in accounts_in_variable({"accounts": listed})] == ["west"]
    # What was left out, for the DAG that fails until it is fixed (values never quoted).
    from intacct_hook.sync.accounts import account_list_problems

    problems = account_list_problems({"accounts": listed})
    assert len(problems) == 3 and "2 accounts are named 'dup'" in problems[2]
    [problem] = account_list_problems('{"accounts": [{"name": "east", "token": "s3cret"},]}')
    assert "not valid JSON (line 1, column" in problem and "s3cret" not in problem
    assert account_list_problems({"accounts": [{"name": "east"}]}) == []


def test_one_accounts_mistake_stops_only_that_account():
    variable = {
        "accounts": [
            {"name": "east", "card_account_id": "CC East"},
            {"name": "west", "card_account_id": "CC West", "lookback_days": "five"},
            {"name": "north", "card_account_id": "CC East"},  # east's card: a clash
        ]
    }
    with pytest.raises(SettingsError):  # checked as a whole, it is invalid
        SyncSettings.from_variable(variable)
    with pytest.raises(SettingsError, match=r"accounts\[west\]: 'lookback_days' must be"):
        SyncSettings.from_variable(variable, account="west")
    # A clash stops the account listed later only.
    with pytest.raises(SettingsError, match="'east' and 'north' share the same Intacct card"):
        SyncSettings.from_variable(variable, account="north")
    # A fourth account, untouched by either mistake, runs; the others' problems are warnings.
    variable["accounts"].append({"name": "south", "card_account_id": "CC South"})
    south = SyncSettings.from_variable(variable, account="south").for_account("south")
    assert south.card_account_id == "CC South"
    assert len(south.account_warnings) == 2  # west's value, north's clash
    assert any("accounts[west]: 'lookback_days'" in w for w in south.account_warnings)


def test_a_token_put_in_the_list_is_never_echoed():
    token = "dvy_live_5ecr3t_t0ken_value"
    for accounts in (
        {"name": "east", "api_token": token},  # an object, not a list
        [token],
        [{"name": token.upper()}],  # not a valid name: described, not quoted
        [{"name": "east", "divvy_conn_id": token + " "}],
        [{"name": "east", "entity_id": {"token": token}}],
    ):
        with pytest.raises(SettingsError) as exc:
            SyncSettings.from_variable({"accounts": accounts})
        assert token not in str(exc.value), accounts


def test_dag_ids_name_the_account():
    assert account_dag_id("divvy_intacct_sync", None) == "divvy_intacct_sync"
    assert account_dag_id("divvy_intacct_sync", "east") == "divvy_intacct_sync__east"
    assert account_of_dag_id("divvy_intacct_preview__east") == "east"
    assert account_of_dag_id("divvy_intacct_preview") is None


def test_a_ledger_schema_needs_the_postgresql_ledger():
    with pytest.raises(SettingsError, match=r"accounts\[a\]\.ledger_schema applies to a Postgre"):
        SyncSettings.from_variable({"accounts": [{"name": "a", "ledger_schema": "x"}]})
    s = SyncSettings.from_variable(
        {"ledger_conn_id": "pg", "accounts": [{"name": "a", "ledger_schema": "x"}]}
    )
    assert s.for_account("a").account.schema == "x"


@pytest.mark.parametrize(
    "override",
    [
        {"card_account_id": "dvy_tok_SECRET1234567890abcdef "},
        {"timezone": "dvy_tok_SECRET1234567890abcdef"},
        {"lookback_days": "dvy_tok_SECRET1234567890abcdef"},
        {"custom_field_names": {"dvy_tok_SECRET1234567890abcdef": "x"}},
    ],
)
def test_a_long_text_in_an_accounts_keys_is_never_quoted_in_its_or_the_others_problems(override):
    raw = {"accounts": [{"name": "east"}, {"name": "west", "card_account_id": "W", **override}]}
    with pytest.raises(SettingsError) as exc:
        SyncSettings.from_variable(raw, account="west")
    assert "SECRET" not in str(exc.value) and "<text of 3" in str(exc.value)
    east = SyncSettings.from_variable(raw, account="east")  # west's problem: east's warning
    assert east.account_warnings and not any("SECRET" in w for w in east.account_warnings)
    with pytest.raises(SettingsError) as exc:  # the top level too
        SyncSettings.from_variable(override)
    assert "SECRET" not in str(exc.value)


def test_a_new_entry_clashing_with_a_running_account_stops_only_the_new_one():
    east = {"name": "east", "divvy_conn_id": "divvy_east", "card_account_id": "CC East"}
    west = {"name": "west", "divvy_conn_id": "divvy_west", "card_account_id": "CC East"}
    raw = {"accounts": [east, west]}
    settings = SyncSettings.from_variable(raw, account="east")  # east keeps running
    assert any("share the same Intacct card" in w for w in settings.account_warnings)
    with pytest.raises(SettingsError, match="share the same Intacct card"):
        SyncSettings.from_variable(raw, account="west")  # west never runs: nothing twice
