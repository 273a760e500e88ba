"""DivvyHook transport over real HTTP: rate limits, retries, errors, cursors, auth, masking."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import tenacity

from intacct_hook.hooks.divvy import (
    DivvyApiError,
    DivvyHook,
    DivvyPaginationError,
    DivvyTransientError,
)
from sandbox.divvy_api.testing import running_divvy
from tests.divvy_factories import empty_seed

FAST = {"wait": tenacity.wait_fixed(0.05)}  # retry quickly where the wait itself is not tested


def statuses(api, suffix="/users/current"):
    return [r.status for r in api.requests if r.path.endswith(suffix)]


def test_client_limiter_keeps_under_the_server_limit(connect, capsys):
    with running_divvy(empty_seed(), calls_per_minute=5, window_seconds=2.0) as api:
        hook = connect(api, calls_per_minute=5, hook_kwargs={"rate_limit_window": 2.0})
        started = time.monotonic()
        for _ in range(7):
            hook.get_current_user()
        elapsed = time.monotonic() - started
    assert statuses(api) == [200] * 7, "the server had to refuse a call"
    assert elapsed >= 2.0  # calls 6 and 7 waited for the window to roll
    assert "Divvy rate limit: waiting" in capsys.readouterr().out


def test_a_call_the_server_counts_late_does_not_cost_a_429(connect):
    # The server counts a call when it gets to it: here the first one 0.4 s after the client
    # let it go (a busy machine, a slow network). The third call must wait for the window to
    # roll past the server's count, not the client's; a fixed margin of 50 ms did not.
    with running_divvy(empty_seed(), calls_per_minute=2, window_seconds=1.0) as api:
        hook = connect(api, calls_per_minute=2, hook_kwargs={"rate_limit_window": 1.0})
        api.queue_fault("slow", seconds=0.4)
        for _ in range(3):
            hook.get_current_user()
    assert statuses(api) == [200] * 3, "the server had to refuse a call"


def test_rate_limit_window_comes_from_the_connection_extra(connect):
    with running_divvy(empty_seed(), calls_per_minute=5, window_seconds=1.0) as api:
        hook = connect(api, calls_per_minute=5, rate_limit_window=1.0)
        assert hook.conn_params.rate_limit_window == 1.0
        started = time.monotonic()
        for _ in range(6):
            hook.get_current_user()
        assert 1.0 <= time.monotonic() - started < 10
        assert statuses(api) == [200] * 6
        with pytest.raises(ValueError, match="'rate_limit_window' must be a positive number"):
            _ = connect(api, rate_limit_window=-1).conn_params


def test_limiter_is_thread_safe_and_shared_per_token(connect):
    with running_divvy(empty_seed(), calls_per_minute=5, window_seconds=2.0) as api:
        connect(api, calls_per_minute=5, hook_kwargs={"rate_limit_window": 2.0})
        hooks = [DivvyHook(rate_limit_window=2.0) for _ in range(3)]
        threads = [threading.Thread(target=h.get_current_user) for h in hooks for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert statuses(api) == [200] * 9


def test_server_429_with_retry_after_is_honoured(connect, capsys):
    # The client thinks it may make 60 calls; the server allows 5 per 2 s and says when to retry.
    with running_divvy(empty_seed(), calls_per_minute=5, window_seconds=2.0) as api:
        hook = connect(api)
        for _ in range(7):
            hook.get_current_user()
    codes = statuses(api)
    assert codes.count(200) == 7 and 429 in codes
    logs = capsys.readouterr().out
    assert "Divvy rate limit (HTTP 429) on /v3/spend/users/current: waiting" in logs
    assert "(Retry-After)" in logs


def test_queued_429_waits_retry_after_seconds(api, connect, capsys):
    hook = connect(api)
    api.queue_fault("rate_limit", retry_after=1)
    started = time.monotonic()
    assert hook.get_current_user()["role"] == "ADMIN"
    assert time.monotonic() - started >= 1.0
    assert "waiting 1.00 s (Retry-After) before attempt 2" in capsys.readouterr().out


def test_429_without_retry_after_backs_off_with_jitter(api, connect, capsys):
    hook = connect(api)
    api.queue_fault("rate_limit", count=2, retry_after=None)
    started = time.monotonic()
    hook.get_current_user()
    elapsed = time.monotonic() - started
    assert 3.0 <= elapsed < 6.0  # 1 s + 2 s of backoff, plus up to 1 s of jitter each
    logs = capsys.readouterr().out
    assert logs.count("(no Retry-After, backoff)") == 2
    assert statuses(api) == [429, 429, 200]


def test_server_errors_are_retried_then_raised(api, connect):
    hook = connect(api, hook_kwargs={"retry_args": FAST})
    api.queue_fault("server_error", count=2, status=503)
    assert hook.get_current_user()["role"] == "ADMIN"
    assert len(statuses(api)) == 3

    api.queue_fault("server_error", count=6, status=502)
    with pytest.raises(DivvyTransientError) as info:
        hook.get_current_user()
    assert info.value.status == 502 and "HTTP 502" in str(info.value)
    api.state.clear_faults()


def test_truncated_body_is_retried(api, connect):
    uuid = api.state.add_transaction({"amount": 12.5, "occurredTime": "2026-08-01T00:00:00Z"})[
        "uuid"
    ]
    hook = connect(api, hook_kwargs={"retry_args": FAST})
    api.queue_fault("truncated")
    assert hook.get_transaction(uuid).uuid == uuid
    assert len([r for r in api.requests if r.path.endswith(uuid)]) == 2


def test_slow_response_times_out_and_is_retried(api, connect):
    hook = connect(api, timeout=0.5, hook_kwargs={"retry_args": FAST})
    api.queue_fault("slow", seconds=1.5)
    started = time.monotonic()
    assert hook.get_current_user()["role"] == "ADMIN"
    assert time.monotonic() - started < 1.5  # the timeout fired; we did not wait it out


def test_client_errors_raise_with_bdc_code_and_path_and_are_not_retried(api, connect):
    hook = connect(api)
    with pytest.raises(DivvyApiError) as info:
        hook.get_transaction("txr_doesnotexist")
    err = info.value
    assert not isinstance(err, DivvyTransientError)
    assert err.status == 404 and err.code and err.code.startswith("BDC_")
    assert err.path == "/v3/spend/transactions/txr_doesnotexist"
    assert "GET /v3/spend/transactions/txr_doesnotexist" in str(err)
    assert len([r for r in api.requests if r.path.endswith("txr_doesnotexist")]) == 1

    with pytest.raises(DivvyApiError, match="max: must be less than or equal to 50") as info:
        hook._request("/v3/spend/transactions", {"max": 51})
    assert info.value.status == 400
    with pytest.raises(ValueError, match=r"page_size must be 1\.\.50"):
        next(hook.iter_transactions(page_size=51))


def test_reference_lists_are_typed_and_use_max_100(api, connect):
    hook = connect(api)
    budgets = list(hook.iter_budgets())
    users = list(hook.iter_users())
    cards = list(hook.iter_cards())
    fields = {f.name: f for f in hook.iter_custom_fields()}
    assert budgets and users and cards
    assert all(c.last_four and len(c.last_four) == 4 for c in cards)
    assert any(u.role == "ADMIN" for u in users)
    assert "GL Account" in fields and fields["GL Account"].uuid
    for suffix in ("/budgets", "/users", "/cards", "/custom-fields"):
        (req,) = [r for r in api.requests if r.path.endswith(suffix)]
        assert req.query["max"] == "100"


class _LoopingCursor(BaseHTTPRequestHandler):
    """A broken server: every page says the next page is the same cursor."""

    def do_GET(self) -> None:
        server: Any = self.server
        page = {
            "uuid": f"txr_loop{server.calls}",
            "transactionType": "CLEAR",
            "amount": 1,
            "occurredTime": "2026-08-01T00:00:00.000+00:00",
        }
        server.calls += 1
        body = json.dumps({"results": [page], "nextPage": "YXJyYXljb25uZWN0aW9uOjA="}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def looping_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LoopingCursor)
    server.calls = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/connect"
    server.shutdown()


def test_repeated_cursor_is_an_error(looping_server, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_DIVVY_DEFAULT",
        json.dumps({"conn_type": "divvy", "host": looping_server, "password": "loop-token-123"}),
    )
    walk = DivvyHook().iter_transactions()
    assert next(walk).uuid == "txr_loop0"
    assert next(walk).uuid == "txr_loop1"
    with pytest.raises(DivvyPaginationError, match="cursor 'YXJyYXljb25uZWN0aW9uOjA=' twice"):
        next(walk)


def test_oauth_client_credentials_send_a_bearer_token(api, connect):
    hook = connect(
        api,
        token="",
        auth_type="oauth_client_credentials",
        client_id=api.client_id,
        client_secret=api.client_secret,
        token_url=api.token_url,
    )
    assert hook.test_connection()[0] is True
    hook.get_current_user()
    calls = [r for r in api.requests if r.path.endswith("/users/current")]
    assert all("Authorization" in r.headers and "apiToken" not in r.headers for r in calls)
    assert len([r for r in api.requests if r.path.endswith("/authx/token")]) == 1  # cached

    # A revoked/expired access token is replaced once, transparently.
    api.state.bearer_tokens.clear()
    assert hook.get_current_user()["role"] == "ADMIN"
    assert len([r for r in api.requests if r.path.endswith("/authx/token")]) == 2


def test_test_connection_reports_in_plain_words(api, connect):
    ok, message = connect(api).test_connection()
    assert ok and message.startswith("Connected to Divvy as ") and "(ADMIN)" in message
    ok, message = connect(api, token="wrong-token-0000").test_connection()
    assert not ok and "did not accept the API token" in message and "wrong-token" not in message
    ok, message = connect(api, token="").test_connection()
    assert not ok and "has no API token" in message


def test_connection_settings_are_validated(api, connect):
    with pytest.raises(ValueError, match=r"calls_per_minute must be 1\.\.60"):
        connect(api, calls_per_minute=61)._get_conn_params()
    with pytest.raises(ValueError, match="auth_type 'basic'"):
        connect(api, auth_type="basic")._get_conn_params()
    with pytest.raises(ValueError, match="lacks client_secret, token_url"):
        connect(api, auth_type="oauth_client_credentials", client_id="x")._get_conn_params()
    params = connect(api).conn_params
    assert params.timeout == 5 and params.calls_per_minute == 60
    assert params.base_url == api.url


def test_token_never_appears_in_logs_errors_or_repr(api, connect, caplog, capsys):
    token = api.token
    hook = connect(api, hook_kwargs={"retry_args": FAST})
    messages: list[str] = []
    with caplog.at_level(logging.DEBUG):
        hook.test_connection()
        api.queue_fault("rate_limit", retry_after=0)
        api.queue_fault("server_error")
        list(hook.iter_transactions())
        for call in (
            lambda: hook.get_transaction("txr_missing"),
            lambda: hook._request("/v3/spend/transactions", {"max": 0}),
        ):
            with pytest.raises(DivvyApiError) as info:
                call()
            messages += [str(info.value), repr(info.value)]
        bad = connect(api, token=token + "-revoked")
        messages.append(bad.test_connection()[1])
        with pytest.raises(DivvyApiError) as info:
            bad.get_current_user()
        messages.append(str(info.value))
    messages += [repr(hook), repr(hook.conn_params), str(hook.conn_params)]
    out = capsys.readouterr()
    everything = "\n".join([caplog.text, out.out, out.err, *messages])
    assert "GET /v3/spend/transactions" in everything  # the debug lines were captured
    assert "urllib3" in caplog.text or "127.0.0.1" in caplog.text
    assert token not in everything

    from airflow.sdk._shared.secrets_masker import redact

    assert redact(f"token={token}") == "token=***"  # Airflow masks it in task logs too
