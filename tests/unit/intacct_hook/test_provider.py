"""The package is an Airflow provider: both connection types appear with labelled fields."""

from __future__ import annotations

import json
import pathlib

import airflow
import pytest

from intacct_hook.provider_info import get_provider_info


def test_provider_info_matches_airflows_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(
        (pathlib.Path(airflow.__file__).parent / "provider_info.schema.json").read_text()
    )
    jsonschema.validate(get_provider_info(), schema)


def test_airflow_discovers_both_connection_types_with_secret_fields_marked():
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    pm = ProvidersManager()
    assert "divvy-intacct" in pm.providers
    hooks = ProvidersManagerTaskRuntime().hooks  # what workers resolve a conn type with
    assert hooks["intacct"].hook_class_name == "intacct_hook.hooks.intacct.IntacctHook"
    assert hooks["divvy"].hook_class_name == "intacct_hook.hooks.divvy.DivvyHook"
    widgets = pm.connection_form_widgets
    sensitive = {name for name, w in widgets.items() if w.is_sensitive}
    assert {"extra__intacct__sender_password", "extra__divvy__client_secret"} <= sensitive
    assert "extra__intacct__company_id" not in sensitive
    assert pm.field_behaviours["intacct"]["relabeling"]["login"] == "Web Services user ID"
    assert pm.field_behaviours["divvy"]["relabeling"]["password"] == "API token"


def test_a_connection_of_each_type_builds_its_hook(monkeypatch):
    from airflow.sdk import Connection

    from intacct_hook.hooks.divvy import DivvyHook
    from intacct_hook.hooks.intacct import IntacctHook

    intacct = Connection(conn_id="intacct_default", conn_type="intacct")
    divvy = Connection(conn_id="divvy_default", conn_type="divvy")
    assert isinstance(intacct.get_hook(), IntacctHook)
    assert isinstance(divvy.get_hook(), DivvyHook)


def test_the_divvy_auth_type_is_a_choice_of_exactly_the_hooks_auth_types():
    from airflow.providers_manager import ProvidersManager

    from intacct_hook.hooks.divvy import AUTH_TYPES

    field = ProvidersManager().connection_form_widgets["extra__divvy__auth_type"].field
    schema = field["schema"]
    assert schema["enum"] == list(AUTH_TYPES)  # the UI renders an enum as a drop-down
    assert field["value"] == schema["default"] == "api_token"
    assert set(schema["values_display"]) == set(AUTH_TYPES)
    assert schema["title"] == "Authentication"


@pytest.mark.parametrize("auth_type", ["oauth", "token", "api-token"])
def test_an_auth_type_the_hook_does_not_know_is_refused_naming_the_choices(monkeypatch, auth_type):
    from intacct_hook.hooks.divvy import DivvyHook

    conn = {"conn_type": "divvy", "password": "divvy-token-0001", "extra": {"auth_type": auth_type}}
    monkeypatch.setenv("AIRFLOW_CONN_DIVVY_CHOICE", json.dumps(conn))
    hook = DivvyHook(divvy_conn_id="divvy_choice")
    with pytest.raises(ValueError) as refused:
        hook.conn_params  # noqa: B018 - reading the connection validates it
    message = str(refused.value)
    for words in ("divvy_choice", repr(auth_type), "api_token", "oauth_client_credentials"):
        assert words in message, message
    # The Test button and `airflow connections test` show the same sentence.
    assert DivvyHook(divvy_conn_id="divvy_choice").test_connection() == (False, message)
