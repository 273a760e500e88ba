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
