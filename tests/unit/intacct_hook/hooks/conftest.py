"""Fixtures: a local Divvy API with no transactions, and a hook connected to it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox.divvy_api.testing import DivvyHandle, running_divvy
from tests.divvy_factories import empty_seed


@pytest.fixture
def api() -> Iterator[DivvyHandle]:
    with running_divvy(empty_seed()) as handle:
        yield handle


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``connect(api, token=..., **extra)``: point ``divvy_default`` at ``api``; return a hook."""
    from intacct_hook.hooks.divvy import DivvyHook

    def _connect(handle: DivvyHandle, *, token: str | None = None, hook_kwargs=None, **extra):
        conn = {
            "conn_type": "divvy",
            "host": handle.url,
            "password": handle.token if token is None else token,
            # The sandbox serves receipt files on "localhost": loopback is opted in.
            "extra": {"timeout": 5, "receipts_allow_loopback": True, **extra},
        }
        monkeypatch.setenv("AIRFLOW_CONN_DIVVY_DEFAULT", json.dumps(conn))
        return DivvyHook(**(hook_kwargs or {}))

    return _connect
