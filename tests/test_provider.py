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
