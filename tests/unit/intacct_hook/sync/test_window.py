from __future__ import annotations

import contextlib
import os
import time
from datetime import UTC, date, datetime

import pytest

from intacct_hook.sync.window import WindowError, resolve_window

TZ = "America/Chicago"


def _resolve(**kw):
    base = dict(
        params={},
        data_interval_start=None,
        data_interval_end=None,
        run_after=None,
        timezone=TZ,
        lookback_days=14,
    )
    base.update(kw)
    return resolve_window(**base)


def test_day_long_interval_is_one_local_day():
    # A CronDataIntervalTimetable in Chicago: local midnight to local midnight (06:00 UTC).
    w = _resolve(
        data_interval_start=datetime(2026, 11, 5, 6, tzinfo=UTC),
        data_interval_end=datetime(2026, 11, 6, 6, tzinfo=UTC),
    )
    assert (w.first_day, w.last_day, w.source) == (
        date(2026, 11, 5),
        date(2026, 11, 5),
        "data_interval",
    )
    assert w.lookback_from == date(2026, 10, 22)
    # The lookback starts before the end of daylight saving time (Nov 1): midnight is 05:00 UTC
    # there, 06:00 UTC at the end.
    assert w.extract_from == datetime(2026, 10, 22, 5, tzinfo=UTC)
    assert w.extract_to == datetime(2026, 11, 6, 6, tzinfo=UTC)
    assert len(w.days()) == 15 and w.days(with_lookback=False) == [date(2026, 11, 5)]


def test_zero_width_interval_falls_back_to_day_before_run_after():
    at = datetime(2026, 11, 18, 12, tzinfo=UTC)
    w = _resolve(data_interval_start=at, data_interval_end=at, run_after=at)
    assert (w.first_day, w.last_day, w.source) == (
        date(2026, 11, 17),
        date(2026, 11, 17),
        "run_after",
    )


def test_manual_run_without_logical_date_uses_run_after_in_company_zone():
    # 03:00 UTC on the 18th is still the 17th in Chicago, so "yesterday" is the 16th.
    w = _resolve(run_after=datetime(2026, 11, 18, 3, tzinfo=UTC))
    assert w.first_day == w.last_day == date(2026, 11, 16)


def test_params_override_interval_and_are_inclusive():
    w = _resolve(
        params={"start_date": "2026-11-01", "end_date": "2026-11-07"},
        data_interval_start=datetime(2026, 11, 17, 6, tzinfo=UTC),
        data_interval_end=datetime(2026, 11, 18, 6, tzinfo=UTC),
    )
    assert (w.first_day, w.last_day, w.source) == (date(2026, 11, 1), date(2026, 11, 7), "params")
    assert w.days(with_lookback=False)[-1] == date(2026, 11, 7)


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"start_date": "2026-11-01"}, "give both"),
        ({"start_date": "2026-11-09", "end_date": "2026-11-01"}, "before start_date"),
        ({"start_date": "11/01/2026", "end_date": "2026-11-02"}, "YYYY-MM-DD"),
    ],
)
def test_bad_params_name_the_fix(params, needle):
    with pytest.raises(WindowError, match=needle):
        _resolve(params=params, run_after=datetime(2026, 11, 18, tzinfo=UTC))


def test_posting_date_is_local_date():
    w = _resolve(run_after=datetime(2026, 11, 18, 12, tzinfo=UTC))
    assert w.posting_date(datetime(2026, 11, 17, 5, 59, tzinfo=UTC)) == date(2026, 11, 16)
    assert w.posting_date(datetime(2026, 11, 17, 6, 0, tzinfo=UTC)) == date(2026, 11, 17)
    with pytest.raises(WindowError):
        w.posting_date(datetime(2026, 11, 17, 6, 0))


def test_interval_between_06_00_fire_times_is_one_day():
    # The DAG fires at 06:00 Chicago, so its data intervals run 06:00 to 06:00 local: the run
    # after Nov 21 covers Nov 21 only, not Nov 21 and Nov 22.
    w = _resolve(
        data_interval_start=datetime(2026, 11, 21, 12, tzinfo=UTC),
        data_interval_end=datetime(2026, 11, 22, 12, tzinfo=UTC),
    )
    assert (w.first_day, w.last_day) == (date(2026, 11, 21), date(2026, 11, 21))


def test_interval_across_a_dst_change_is_still_one_day():
    # Nov 1 2026 has 25 hours in Chicago.
    w = _resolve(
        data_interval_start=datetime(2026, 11, 1, 11, tzinfo=UTC),
        data_interval_end=datetime(2026, 11, 2, 12, tzinfo=UTC),
    )
    assert (w.first_day, w.last_day) == (date(2026, 11, 1), date(2026, 11, 1))


@pytest.mark.parametrize(
    ("start", "end", "day"),
    [
        # LocalDayTimetable's intervals: local midnight to local midnight, 23 hours on the
        # spring-forward day and 25 on the fall-back day.
        (
            datetime(2026, 3, 8, 6, tzinfo=UTC),
            datetime(2026, 3, 9, 5, tzinfo=UTC),
            date(2026, 3, 8),
        ),
        (
            datetime(2026, 11, 1, 5, tzinfo=UTC),
            datetime(2026, 11, 2, 6, tzinfo=UTC),
            date(2026, 11, 1),
        ),
        (
            datetime(2026, 3, 7, 6, tzinfo=UTC),
            datetime(2026, 3, 8, 6, tzinfo=UTC),
            date(2026, 3, 7),
        ),
        (
            datetime(2026, 3, 9, 5, tzinfo=UTC),
            datetime(2026, 3, 10, 5, tzinfo=UTC),
            date(2026, 3, 9),
        ),
    ],
)
def test_local_midnight_intervals_are_their_day_dst_days_included(start, end, day):
    w = _resolve(data_interval_start=start, data_interval_end=end, lookback_days=0)
    assert (w.first_day, w.last_day, w.source) == (day, day, "data_interval")
    # The extraction window is exactly the interval: the day, whatever its length.
    assert (w.extract_from, w.extract_to) == (start, end)


def test_week_long_interval_covers_seven_days():
    w = _resolve(
        data_interval_start=datetime(2026, 11, 16, 12, tzinfo=UTC),
        data_interval_end=datetime(2026, 11, 23, 12, tzinfo=UTC),
    )
    assert (w.first_day, w.last_day) == (date(2026, 11, 16), date(2026, 11, 22))


def test_pendulum_intervals_from_airflow_work():
    # Airflow's context gives pendulum DateTimes; their difference is a pendulum Interval.
    import pendulum

    w = _resolve(
        data_interval_start=pendulum.datetime(2026, 11, 21, 12, tz="UTC"),
        data_interval_end=pendulum.datetime(2026, 11, 22, 12, tz="UTC"),
    )
    assert (w.first_day, w.last_day) == (date(2026, 11, 21), date(2026, 11, 21))


@pytest.mark.parametrize("hour", range(24))
def test_manual_run_yesterday_at_every_hour_of_the_clock(hour):
    # Chicago midnight is 06:00 UTC in November: before it, Chicago's yesterday is two UTC days
    # back. The e2e test of the same run injects run_after the same way.
    w = _resolve(run_after=datetime(2026, 11, 18, hour, tzinfo=UTC))
    expected = date(2026, 11, 16) if hour < 6 else date(2026, 11, 17)
    assert (w.first_day, w.last_day, w.source) == (expected, expected, "run_after")


@contextlib.contextmanager
def _machine_zone(name: str):
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.mark.parametrize(
    ("machine_tz", "machine_day"),
    [
        ("UTC", date(2026, 11, 18)),
        ("Asia/Tokyo", date(2026, 11, 18)),
        ("Pacific/Kiritimati", date(2026, 11, 18)),
        ("America/Los_Angeles", date(2026, 11, 17)),
        ("Pacific/Pago_Pago", date(2026, 11, 17)),
    ],
)
def test_the_machine_time_zone_changes_nothing(machine_tz, machine_day):
    at_two = datetime(2026, 11, 18, 2, tzinfo=UTC)
    with _machine_zone(machine_tz):
        # The zone really is in force: the machine's own idea of the date differs.
        assert datetime.fromtimestamp(at_two.timestamp()).date() == machine_day
        w = _resolve(run_after=at_two)
        interval = _resolve(
            data_interval_start=datetime(2026, 11, 17, 12, tzinfo=UTC),
            data_interval_end=datetime(2026, 11, 18, 12, tzinfo=UTC),
        )
    assert w.first_day == date(2026, 11, 16)
    assert w.extract_from == datetime(2026, 11, 2, 6, tzinfo=UTC)
    assert w.extract_to == datetime(2026, 11, 17, 6, tzinfo=UTC)
    assert interval.first_day == interval.last_day == date(2026, 11, 17)


# run_after 12:00 UTC on Nov 18 is Nov 18 in Chicago: the latest day params may name is Nov 19.
RUN_AFTER = datetime(2026, 11, 18, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (
            "0001-01-01",
            "2026-11-01",
            "param start_date=0001-01-01 is before 2000-01-01; give a day from 2000-01-01 on",
        ),
        (
            "1999-12-31",
            "2000-01-02",
            "param start_date=1999-12-31 is before 2000-01-01; give a day from 2000-01-01 on",
        ),
        (
            "2026-11-01",
            "9999-12-31",
            "param end_date=9999-12-31 is after 2026-11-19, the day after the run's own day "
            "(2026-11-18 in America/Chicago); a day that has not come has nothing to sync, give "
            "an earlier end_date",
        ),
        (
            "2062-11-01",
            "2062-11-02",
            "param start_date=2062-11-01 is after 2026-11-19, the day after the run's own day "
            "(2026-11-18 in America/Chicago); a day that has not come has nothing to sync, give "
            "an earlier start_date",
        ),
        (
            "2024-11-01",
            "2026-11-01",
            "params start_date=2024-11-01 and end_date=2026-11-01 span 731 days; one run syncs "
            "at most 366 days, split the range into several runs",
        ),
    ],
)
def test_implausible_param_dates_are_refused_naming_the_param_and_the_fix(start, end, message):
    with pytest.raises(WindowError) as err:
        _resolve(params={"start_date": start, "end_date": end}, run_after=RUN_AFTER)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("start", "end"),
    [("2000-01-01", "2000-01-01"), ("2025-11-18", "2026-11-18"), ("2026-11-19", "2026-11-19")],
)
def test_param_dates_at_the_limits_are_accepted(start, end):
    w = _resolve(params={"start_date": start, "end_date": end}, run_after=RUN_AFTER)
    assert (w.first_day.isoformat(), w.last_day.isoformat()) == (start, end)


def test_without_run_after_only_the_fixed_limits_apply():
    w = _resolve(params={"start_date": "2030-01-01", "end_date": "2030-01-02"})
    assert w.first_day == date(2030, 1, 1)
    with pytest.raises(WindowError, match="before 2000-01-01"):
        _resolve(params={"start_date": "0001-01-01", "end_date": "0001-01-02"})


@pytest.mark.parametrize(
    "kw",
    [
        # An interval at the very start of the calendar: local dates and the lookback would
        # leave the range datetime can hold.
        {
            "data_interval_start": datetime(1, 1, 1, tzinfo=UTC),
            "data_interval_end": datetime(1, 1, 2, tzinfo=UTC),
        },
        {"run_after": datetime(1, 1, 1, 3, tzinfo=UTC)},
        {"run_after": datetime(9999, 12, 31, 23, tzinfo=UTC), "timezone": "Asia/Tokyo"},
        {"run_after": RUN_AFTER, "lookback_days": 10**6},
    ],
)
def test_calendar_overflow_is_a_window_error_not_an_overflow_error(kw):
    with pytest.raises(WindowError, match="outside the calendar"):
        _resolve(**kw)


@pytest.mark.parametrize(
    ("first", "last", "label"),
    [
        ("2026-11-01", "2026-11-01", "Nov 1, 2026 (America/Chicago)"),
        ("2026-11-01", "2026-11-07", "Nov 1\u20137, 2026 (America/Chicago)"),
        ("2026-10-30", "2026-11-02", "Oct 30 \u2013 Nov 2, 2026 (America/Chicago)"),
        ("2026-12-30", "2027-01-02", "Dec 30, 2026 \u2013 Jan 2, 2027 (America/Chicago)"),
    ],
)
def test_the_label_names_the_days_as_a_person_reads_them(first, last, label):
    w = _resolve(params={"start_date": first, "end_date": last})
    assert w.label() == label
    assert w.to_public_dict()["label"] == label
