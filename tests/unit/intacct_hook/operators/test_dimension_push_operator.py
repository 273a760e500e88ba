"""The dimension push operator's own decisions (no DAG run: the e2e test runs the DAG)."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from intacct_hook.operators.dimension_push import DimensionPushOperator, dry_run_of
from intacct_hook.sync.settings import SyncSettings


def test_dry_run_param_wins_else_the_settings_default() -> None:
    plain = SyncSettings.from_variable({})
    dry = SyncSettings.from_variable({"dimension_push": {"dry_run": True}})
    assert dry_run_of({}, plain) is False and dry_run_of(None, dry) is True
    assert dry_run_of({"dry_run": None}, dry) is True
    assert dry_run_of({"dry_run": False}, dry) is False
    assert dry_run_of({"dry_run": True}, plain) is True
    with pytest.raises(AirflowFailException, match="dry_run must be true, false or empty"):
        dry_run_of({"dry_run": "false"}, plain)  # text is not guessed at


def test_dry_run_in_conf_is_not_refused_here_unlike_the_sync() -> None:
    op = DimensionPushOperator(task_id="push_location", dimension="location")

    class Run:
        conf = {"dry_run": True}

    op.refuse_preview_request({"dag_run": Run(), "params": {"dry_run": True}})  # no raise


def test_unknown_dimension_is_refused_when_the_dag_is_built() -> None:
    with pytest.raises(ValueError, match="unknown dimension 'cost_center'"):
        DimensionPushOperator(task_id="push_x", dimension="cost_center")
