"""The schedule the finance team reads: one local day per run, named by that day.

Every instant is given by the test (bounds, run_after, the timetable's clock); nothing reads
the wall clock or the machine's time zone.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pendulum
import pytest

from intacct_hook.timetables import LocalDayTimetable

TZ = "America/Chicago"


def _utc(*args: int) -> pendulum.DateTime:
    return pendulum.datetime(*args, tz="UTC")


def _restriction(earliest, latest, catchup):
    from airflow.timetables.base import TimeRestriction

    return TimeRestriction(earliest, latest, catchup)


def _days_between(tt: LocalDayTimetable, earliest, latest) -> list:
    """What ``airflow backfill create`` asks the timetable for (SerializedDAG.
    iter_dagrun_infos_between): a bounded catch-up, one info after the other."""
    infos, info = [], None
    restriction = _restriction(earliest, latest, True)
    while (info := tt.next_dagrun_info_v2(last_dagrun_info=info, restriction=restriction)) and (
        len(infos) < 400
    ):
        infos.append(info)
    return infos


def test_a_run_covers_one_local_day_named_by_its_logical_date():
    tt = LocalDayTimetable(TZ)
    interval = tt.day_interval(date(2026, 11, 17))
    # Chicago midnight is 06:00 UTC in November: the interval is the local day, exactly.
    assert (interval.start, interval.end) == (_utc(2026, 11, 17, 6), _utc(2026, 11, 18, 6))
    [info] = _days_between(tt, _utc(2026, 11, 17), _utc(2026, 11, 17))
    assert info.logical_date == interval.start
    assert info.logical_date.in_timezone(TZ).to_date_string() == "2026-11-17"
    # It runs once the day is over, at the configured hour: 06:00 Chicago the next morning.
    assert info.run_after == _utc(2026, 11, 18, 12)
    assert info.run_after.in_timezone(TZ).to_datetime_string() == "2026-11-18 06:00:00"


@pytest.mark.parametrize(
    ("day", "hours", "start_utc", "end_utc"),
    [
        # Spring forward: 2026-03-08 has 23 hours in Chicago (CST -6 -> CDT -5).
        (date(2026, 3, 8), 23, _utc(2026, 3, 8, 6), _utc(2026, 3, 9, 5)),
        # Fall back: 2026-11-01 has 25 hours (CDT -5 -> CST -6).
        (date(2026, 11, 1), 25, _utc(2026, 11, 1, 5), _utc(2026, 11, 2, 6)),
    ],
)
def test_dst_days_are_one_day_of_23_or_25_hours(day, hours, start_utc, end_utc):
    tt = LocalDayTimetable(TZ)
    interval = tt.day_interval(day)
    assert (interval.start, interval.end) == (start_utc, end_utc)
    assert (interval.end - interval.start) == timedelta(hours=hours)
    # Neighbouring days touch: no gap, no overlap across the change.
    assert tt.day_interval(day - timedelta(days=1)).end == interval.start
    assert tt.day_interval(day + timedelta(days=1)).start == interval.end
    # The run still fires at 06:00 local the next morning.
    run_after = tt.runs_at(day)
    assert run_after.in_timezone(TZ).to_datetime_string() == (f"{day + timedelta(days=1)} 06:00:00")


@pytest.mark.parametrize(
    ("from_date", "to_date"),
    [
        # What `airflow backfill create --from-date 2026-11-01 --to-date 2026-11-07` passes:
        # the dates as UTC midnight.
        (_utc(2026, 11, 1), _utc(2026, 11, 7)),
        # The old README advice (the last day up to its end) still means the same seven days.
        (_utc(2026, 11, 1), _utc(2026, 11, 7, 23, 59, 59)),
        # A bound written in the company's own zone.
        (
            pendulum.datetime(2026, 11, 1, tz=TZ),
            pendulum.datetime(2026, 11, 7, tz=TZ),
        ),
    ],
)
def test_a_backfill_from_nov_1_to_nov_7_is_exactly_those_seven_days(from_date, to_date):
    tt = LocalDayTimetable(TZ)
    infos = _days_between(tt, from_date, to_date)
    days = [i.logical_date.in_timezone(TZ).date() for i in infos]
    assert days == [date(2026, 11, d) for d in range(1, 8)]
    for info, day in zip(infos, days, strict=True):
        assert info.data_interval == tt.day_interval(day)
        assert info.logical_date == info.data_interval.start


def test_a_backfill_across_spring_forward_has_contiguous_days():
    tt = LocalDayTimetable(TZ)
    infos = _days_between(tt, _utc(2026, 3, 7), _utc(2026, 3, 9))
    assert [i.logical_date.in_timezone(TZ).date() for i in infos] == [
        date(2026, 3, 7),
        date(2026, 3, 8),
        date(2026, 3, 9),
    ]
    for a, b in itertools.pairwise(infos):
        assert a.data_interval.end == b.data_interval.start


def test_the_day_after_the_last_scheduled_one_comes_next():
    from airflow.timetables.base import DataInterval

    tt = LocalDayTimetable(TZ)
    restriction = _restriction(_utc(2026, 1, 1), None, True)
    info = tt.next_dagrun_info(
        last_automated_data_interval=tt.day_interval(date(2026, 10, 31)), restriction=restriction
    )
    assert info.data_interval == tt.day_interval(date(2026, 11, 1))
    # After a run of the old 06:00-06:00 schedule (CronDataIntervalTimetable), the next day is
    # the one after the day that run covered: no day is skipped or synced twice.
    old = DataInterval(_utc(2026, 11, 16, 12), _utc(2026, 11, 17, 12))
    info = tt.next_dagrun_info(last_automated_data_interval=old, restriction=restriction)
    assert info.data_interval == tt.day_interval(date(2026, 11, 17))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # 05:59 Chicago on Nov 18: Nov 16's run (06:00 on the 17th) is the latest due.
        (_utc(2026, 11, 18, 11, 59), date(2026, 11, 16)),
        # 06:00 Chicago on Nov 18: Nov 17's run is due.
        (_utc(2026, 11, 18, 12), date(2026, 11, 17)),
        # 02:00 UTC on Nov 19 is still Nov 18 in Chicago: Nov 17 is the latest due.
        (_utc(2026, 11, 19, 2), date(2026, 11, 17)),
    ],
)
def test_without_catchup_the_latest_due_day_is_next(monkeypatch, now, expected):
    from intacct_hook import timetables

    monkeypatch.setattr(timetables, "_utcnow", lambda: now)
    tt = LocalDayTimetable(TZ)
    info = tt.next_dagrun_info(
        last_automated_data_interval=tt.day_interval(date(2026, 10, 1)),
        restriction=_restriction(_utc(2026, 1, 1), None, False),
    )
    assert info.data_interval == tt.day_interval(expected)
    assert info.run_after <= now


@pytest.mark.parametrize(
    ("run_after", "expected"),
    [
        # A logical date at a local midnight names that day (what the runs list and a
        # backfill show): a manual re-run of "Nov 17" covers Nov 17.
        (pendulum.datetime(2026, 11, 17, tz=TZ), date(2026, 11, 17)),
        # Any other moment means the last whole day before it ("trigger now" = yesterday).
        (pendulum.datetime(2026, 11, 18, 10, 30, tz=TZ), date(2026, 11, 17)),
        (pendulum.datetime(2026, 11, 18, 0, 0, 1, tz=TZ), date(2026, 11, 17)),
        # 02:00 UTC on Nov 18 is 20:00 on Nov 17 in Chicago: the last whole day is Nov 16.
        (_utc(2026, 11, 18, 2), date(2026, 11, 16)),
        # The DST days themselves.
        (pendulum.datetime(2026, 3, 8, tz=TZ), date(2026, 3, 8)),
        (pendulum.datetime(2026, 11, 1, tz=TZ), date(2026, 11, 1)),
    ],
)
def test_a_manual_run_gets_a_whole_local_day(run_after, expected):
    tt = LocalDayTimetable(TZ)
    assert tt.infer_manual_data_interval(run_after=run_after) == tt.day_interval(expected)


def test_scheduled_run_ids_name_the_local_day():
    from airflow.utils.types import DagRunType

    tt = LocalDayTimetable(TZ)
    day = date(2026, 11, 1)
    run_id = tt.generate_run_id(
        run_type=DagRunType.SCHEDULED, run_after=tt.runs_at(day), data_interval=tt.day_interval(day)
    )
    assert run_id == "scheduled__2026-11-01T00:00:00-05:00"
    # Manual runs keep Airflow's id (the moment of the trigger), which stays unique when the
    # same day is run twice.
    manual = tt.generate_run_id(
        run_type=DagRunType.MANUAL,
        run_after=_utc(2026, 11, 18, 15),
        data_interval=tt.day_interval(day),
    )
    assert manual == "manual__2026-11-18T15:00:00+00:00"


def test_the_ui_reads_the_zone_and_the_hour():
    tt = LocalDayTimetable(TZ, run_hour=6)
    assert tt.summary == "Daily at 06:00 America/Chicago"
    assert tt.description == (
        "Daily at 06:00 America/Chicago, one local day per run: the run at 06:00 on Nov 2 "
        "covers Nov 1 (midnight to midnight, America/Chicago)"
    )
    preview = LocalDayTimetable(TZ, preview=True)
    assert preview.summary == "Preview: manual or backfill only (America/Chicago days)"
    assert "never scheduled" in preview.description and "writes nothing" in preview.description


def test_a_preview_timetable_is_never_scheduled_but_can_be_backfilled(monkeypatch):
    from intacct_hook import timetables

    monkeypatch.setattr(timetables, "_utcnow", lambda: _utc(2026, 11, 29, 3))
    tt = LocalDayTimetable(TZ, preview=True)
    assert tt.periodic is True and tt.can_be_scheduled is False
    # What the scheduler and the DAG processor ask (the DAG's start date, no end, no catchup):
    for catchup in (False, True):
        assert (
            tt.next_dagrun_info(
                last_automated_data_interval=None,
                restriction=_restriction(_utc(2026, 1, 1), None, catchup),
            )
            is None
        )
    # What a backfill asks: exactly its days.
    infos = _days_between(tt, _utc(2026, 11, 1), _utc(2026, 11, 7))
    assert len(infos) == 7


def test_serialization_round_trip_through_airflow():
    # What the DAG processor stores and the scheduler and API server read back: only a
    # timetable registered by a plugin can be encoded or decoded.
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    for tt in (
        LocalDayTimetable("Europe/Berlin", run_hour=7, run_minute=30),
        LocalDayTimetable(TZ, preview=True),
    ):
        encoded = encode_timetable(tt)
        assert encoded["__type"] == "intacct_hook.timetables.LocalDayTimetable"
        back = decode_timetable(encoded)
        assert back == tt and back.serialize() == tt.serialize()
        assert (back.summary, back.description, back.can_be_scheduled) == (
            tt.summary,
            tt.description,
            tt.can_be_scheduled,
        )


def test_the_plugin_registers_the_timetable():
    from airflow import plugins_manager

    registered = plugins_manager.get_timetables_plugins()
    assert registered["intacct_hook.timetables.LocalDayTimetable"] is LocalDayTimetable
    _, errors = plugins_manager._get_plugins()
    assert errors == {}


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"timezone": "America/Chicgo"}, "America/Chicgo"),
        ({"timezone": TZ, "run_hour": 24}, "run_hour"),
        ({"timezone": TZ, "run_minute": -1}, "run_minute"),
    ],
)
def test_a_wrong_zone_or_hour_is_refused_when_the_dag_is_parsed(kwargs, needle):
    from airflow.exceptions import AirflowTimetableInvalid

    with pytest.raises(AirflowTimetableInvalid, match=needle):
        LocalDayTimetable(**kwargs).validate()


def test_the_machine_time_zone_changes_nothing(monkeypatch):
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        tt = LocalDayTimetable(TZ)
        assert tt.day_interval(date(2026, 11, 17)).start == datetime(2026, 11, 17, 6, tzinfo=UTC)
        infos = _days_between(tt, _utc(2026, 11, 1), _utc(2026, 11, 7))
        assert len(infos) == 7
    finally:
        monkeypatch.undo()
        time.tzset()
