from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

import pytest

from intacct_hook.hooks.http_util import parse_retry_after


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("7", 7.0), ("0", 0.0), ("-3", 0.0), (None, None), ("", None), ("soon", None)],
)
def test_delta_seconds_and_junk(header, seconds):
    assert parse_retry_after(header) == seconds


def test_http_date_form_is_seconds_from_now():
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= parse_retry_after(when) <= 30
    past = email.utils.format_datetime(datetime(2020, 1, 1, tzinfo=UTC), usegmt=True)
    assert parse_retry_after(past) == 0.0
