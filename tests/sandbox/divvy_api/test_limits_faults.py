"""The rolling per-token rate limit and the on-demand faults."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox.divvy_api.state import load_seed
from sandbox.divvy_api.testing import running_divvy

from .conftest import BDC_KEYS, Client


def test_rate_limit_per_rolling_window_with_retry_after() -> None:
    with running_divvy(calls_per_minute=3, window_seconds=1.0) as divvy:
        client = Client(divvy)
        assert [client.get("users/current").status_code for _ in range(3)] == [200] * 3
        limited = client.get("users/current")
        assert limited.status_code == 429
        assert set(limited.json()[0]) == BDC_KEYS
        assert limited.headers["Retry-After"] == "1"
        time.sleep(1.05)
        assert client.get("users/current").status_code == 200


def test_rate_limit_without_retry_after_header() -> None:
    with running_divvy(calls_per_minute=1, window_seconds=30, retry_after=False) as divvy:
        client = Client(divvy)
        assert client.get("users/current").status_code == 200
        limited = client.get("users/current")
        assert limited.status_code == 429 and "Retry-After" not in limited.headers


def test_default_limit_is_60_a_minute(client: Client) -> None:
    statuses = [client.get("users/current").status_code for _ in range(61)]
    assert statuses[:60] == [200] * 60 and statuses[60] == 429


def test_rate_limit_is_per_token() -> None:
    seed = load_seed(None)
    seed["tokens"].append({"token": "divvy-token-0002", "userUuid": seed["users"][1]["uuid"]})
    with running_divvy(seed, calls_per_minute=1) as divvy:
        client = Client(divvy)
        assert client.get("users/current").status_code == 200
        assert client.get("users/current").status_code == 429
        other = client.get("users/current", headers={"apiToken": "divvy-token-0002"})
        assert other.status_code == 200 and other.json()["firstName"] == "Jane"


def test_queued_rate_limit_fault_with_and_without_header(divvy, client: Client) -> None:
    divvy.queue_fault("rate_limit", retry_after=7)
    divvy.queue_fault("rate_limit", retry_after=None)
    first, second, third = (client.get("transactions") for _ in range(3))
    assert first.status_code == 429 and first.headers["Retry-After"] == "7"
    assert second.status_code == 429 and "Retry-After" not in second.headers
    assert third.status_code == 200


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_fault_for_n_requests(divvy, client: Client, status: int) -> None:
    divvy.queue_fault("server_error", count=2, status=status)
    responses = [client.get("transactions") for _ in range(3)]
    assert [r.status_code for r in responses] == [status, status, 200]
    assert responses[0].json()[0]["category"] == "SERVER"


def test_slow_fault_trips_a_client_timeout(divvy, client: Client) -> None:
    divvy.queue_fault("slow", seconds=0.6)
    with pytest.raises(requests.Timeout):
        client.get("transactions", timeout=0.2)
    divvy.queue_fault("slow", seconds=0.3)
    started = time.monotonic()
    assert client.get("transactions").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_truncated_fault_breaks_the_body_then_recovers(divvy, client: Client) -> None:
    divvy.queue_fault("truncated")
    with pytest.raises(requests.exceptions.RequestException):
        client.get("transactions").json()
    assert client.get("transactions").status_code == 200


def test_unknown_fault_kind_is_refused(divvy) -> None:
    with pytest.raises(ValueError):
        divvy.queue_fault("meltdown")


def test_clear_faults_reports_what_never_fired(divvy, client: Client) -> None:
    divvy.queue_fault("server_error", count=3, status=503)
    assert client.get("transactions").status_code == 503
    assert divvy.clear_faults() == 2
    assert client.get("transactions").status_code == 200


def test_reset_transactions_keeps_the_company() -> None:
    with running_divvy(calls_per_minute=4) as divvy:
        client = Client(divvy)
        users = client.get("users").json()
        parent = divvy.state.add_transaction({"uuid": "txr_parent", "amount": 10.0})
        divvy.state.add_transaction(
            {"uuid": "txr_child", "amount": 10.0, "parentTransactionUuid": parent["uuid"]}
        )
        assert "txr_parent" in {t["uuid"] for t in client.walk("transactions", {})}
        divvy.queue_fault("server_error", count=2)
        assert client.get("users").status_code == 500

        divvy.reset_transactions()

        assert divvy.requests == []
        assert client.walk("transactions", {}) == []  # no fault left over
        assert client.get("transactions/txr_parent").status_code == 404
        assert client.get("users").json() == users  # the company stays
        assert client.get("users").status_code == 200  # the rate-limit count started over
        divvy.state.add_transaction({"uuid": "txr_parent", "amount": 5.0})  # the uuid is free
