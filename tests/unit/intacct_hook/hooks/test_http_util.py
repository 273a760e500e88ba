from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

import pytest

from intacct_hook.hooks.http_util import describe_url, parse_retry_after


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("7", 7.0), ("0", 0.0), ("-3", 0.0), (None, None), ("", None), ("soon", None)],
)
def test_delta_seconds_and_junk(header, seconds):
    assert parse_retry_after(header) == seconds


def test_http_date_form_is_seconds_from_now():
    # The clock is injected: a slow machine or a clock step cannot move the expectation.
    now = datetime(2026, 11, 18, 2, 0, 0, 250_000, tzinfo=UTC)
    when = email.utils.format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(when, now=now) == 29.75  # HTTP dates have whole seconds
    past = email.utils.format_datetime(datetime(2020, 1, 1, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://u:pw@api.example.com:8443/a/b?token=x#f", "https://api.example.com:8443/a/b"),
        ("http://[::1]:8081/ia/xml/xmlgw.phtml?sid=1", "http://[::1]:8081/ia/xml/xmlgw.phtml"),
        ("https://api.example.com", "https://api.example.com"),
        ("http://host:notaport/x", "(unreadable URL)"),
    ],
)
def test_describe_url_leaves_out_credentials_query_and_fragment(url, shown):
    assert describe_url(url) == shown


def test_one_retry_policy_for_both_apis():
    import logging

    import tenacity

    from intacct_hook.divvy.errors import DivvyTransientError
    from intacct_hook.hooks.http_util import DEFAULT_ATTEMPTS, retry_logger, retrying
    from intacct_hook.intacct.errors import IntacctServerError

    sleeps: list[float] = []
    lines: list[str] = []

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    log = logging.getLogger("test_one_retry_policy")
    log.addHandler(Lines())
    failures = [
        DivvyTransientError("slow down", status=429, path="/v3/x", retry_after=500),
        DivvyTransientError("slow down", status=429, path="/v3/x"),
        IntacctServerError("HTTP 503", http_status=503),
    ]
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return "done"

    policy = retrying(
        {"wait": tenacity.wait_fixed(3), "sleep": sleeps.append},
        retryable=lambda exc: True,
        max_retry_after=120,
        before_sleep=retry_logger(log, "API", lambda exc: f" ({type(exc).__name__})"),
    )
    assert policy(flaky) == "done"
    assert sleeps == [120, 3, 3]  # Retry-After capped; without one, the wait given
    assert (
        lines[0] == "API rate limit (HTTP 429) (DivvyTransientError): waiting 120.00 s "
        "(Retry-After) before attempt 2"
    )
    assert "(no Retry-After, backoff) before attempt 3" in lines[1]
    assert lines[2].startswith("API request failed (IntacctServerError): waiting 3.00 s (backoff)")

    stubborn = retrying(
        {"wait": tenacity.wait_none(), "sleep": sleeps.append},
        retryable=lambda exc: True,
        max_retry_after=0,
        before_sleep=lambda state: None,
    )
    calls.clear()

    def always_down() -> None:
        calls.append(1)
        raise IntacctServerError("HTTP 503", http_status=503)

    with pytest.raises(IntacctServerError):
        stubborn(always_down)
    assert len(calls) == DEFAULT_ATTEMPTS


def test_a_deadline_earlier_than_the_ones_already_waiting_still_ends_its_read_on_time():
    # One timer thread keeps every request's deadline: a short request that starts while a
    # long one waits must not wait behind the long one's deadline.
    import socket
    import threading
    import time

    from intacct_hook.hooks.http_util import _Watchdog

    pairs = [socket.socketpair() for _ in range(2)]
    long_expired, short_expired = threading.Event(), threading.Event()
    try:
        long_watch = _Watchdog(pairs[0][0], time.monotonic() + 60, long_expired)
        time.sleep(0.2)  # the timer thread is now waiting for the long deadline
        short_watch = _Watchdog(pairs[1][0], time.monotonic() + 0.05, short_expired)
        pairs[1][0].settimeout(10)

        assert short_expired.wait(10)
        assert pairs[1][0].recv(1) == b""  # the blocked read ends: the socket is shut down
        assert not long_expired.is_set()
        long_watch.cancel()
        short_watch.cancel()
    finally:
        for a, b in pairs:
            a.close()
            b.close()
