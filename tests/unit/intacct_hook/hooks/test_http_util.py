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
