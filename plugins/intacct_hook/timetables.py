"""The sync's schedule: one local day per run, named by that day.

A cron schedule at 06:00 in the company's zone gives 06:00→06:00 intervals whose logical date
is 06:00 of the day (12:00 UTC), its backfill bounds are read as UTC midnight and its run IDs
carry the next morning. :class:`LocalDayTimetable` makes the interval the local day itself:

- day D's data interval is ``[D 00:00, D+1 00:00)`` in the time zone (23 or 25 hours on DST
  days), its logical date ``D 00:00`` local, and the run happens once the day is over, at
  ``D+1`` ``run_hour:run_minute`` local;
- a backfill's ``--from-date``/``--to-date`` name days: the calendar date written in each bound
  (its wall-clock reading, as Airflow does for partitioned timetables), both inclusive, so
  ``--from-date 2026-11-01 --to-date 2026-11-07`` is Nov 1..Nov 7;
- a manual run at a local midnight covers that day; at any other moment the last whole day
  before it ("trigger now" covers yesterday);
- scheduled run IDs name the day: ``scheduled__2026-11-01T00:00:00-05:00``.

With ``preview=True`` the timetable never schedules a run (``can_be_scheduled`` is False) but
still plans a backfill's days: the preview DAG runs only when someone asks.

Registered with Airflow by :mod:`intacct_hook.airflow_plugin`; the DAG processor, scheduler
and API server need that plugin to store and read the DAG.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pendulum
from airflow.exceptions import AirflowTimetableInvalid
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable
from pendulum import DateTime

_DAY = timedelta(days=1)


def _utcnow() -> pendulum.DateTime:
    """The scheduler's clock (a separate function so tests give their own)."""
    return pendulum.now("UTC")


class LocalDayTimetable(Timetable):
    """Daily runs, each covering one whole day in ``timezone``, at ``run_hour:run_minute`` local
    time the morning after.

    :param timezone: IANA zone whose days the runs cover (keep it the settings' ``timezone``).
    :param run_hour: hour (local) of the run after each day; ``run_minute`` its minute.
    :param preview: never schedule (manual runs and backfills only).
    """

    periodic = True

    def __init__(
        self,
        timezone: str = "America/Chicago",
        *,
        run_hour: int = 6,
        run_minute: int = 0,
        preview: bool = False,
    ) -> None:
        self.timezone = timezone
        self.run_hour = run_hour
        self.run_minute = run_minute
        self.preview = preview
        self.can_be_scheduled = not preview

    # --- Airflow's interface ----------------------------------------------------------------

    def validate(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise AirflowTimetableInvalid(
                f"time zone {self.timezone!r} is not an IANA zone (e.g. America/Chicago); set "
                "DIVVY_INTACCT_TIMEZONE"
            ) from exc
        if not 0 <= self.run_hour <= 23:
            raise AirflowTimetableInvalid(f"run_hour {self.run_hour} is not 0..23")
        if not 0 <= self.run_minute <= 59:
            raise AirflowTimetableInvalid(f"run_minute {self.run_minute} is not 0..59")

    def serialize(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "run_hour": self.run_hour,
            "run_minute": self.run_minute,
            "preview": self.preview,
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> LocalDayTimetable:
        return cls(
            data["timezone"],
            run_hour=data["run_hour"],
            run_minute=data["run_minute"],
            preview=data.get("preview", False),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LocalDayTimetable):
            return NotImplemented
        return self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.serialize().items())))

    @property
    def summary(self) -> str:
        if self.preview:
            return f"Preview: manual or backfill only ({self.timezone} days)"
        return f"Daily at {self._clock} {self.timezone}"

    # Timetable declares a plain attribute; a property answers the same reads from the fields.
    @property
    def description(self) -> str:  # type: ignore[override]
        if self.preview:
            return (
                f"Preview, never scheduled: trigger it or backfill it; each run covers one local "
                f"day (midnight to midnight, {self.timezone}) and writes nothing to Intacct"
            )
        return (
            f"Daily at {self._clock} {self.timezone}, one local day per run: the run at "
            f"{self._clock} on Nov 2 covers Nov 1 (midnight to midnight, {self.timezone})"
        )

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        local = pendulum.instance(run_after).in_timezone(self.timezone)
        day = local.date()
        if run_after != self.day_start(day):
            day -= _DAY  # not a day's own logical date: the last whole day before it
        return self.day_interval(day)

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        backfill = restriction.catchup and restriction.latest is not None
        if self.preview and not backfill:
            return None  # the scheduler asks with no end; only a backfill gets a preview's days
        if last_automated_data_interval is not None:
            day = self.day_of(last_automated_data_interval.start) + _DAY
            if restriction.earliest is not None:
                day = max(day, self.bound_day(restriction.earliest))
        elif restriction.earliest is None:
            return None  # no start date: nothing to schedule
        else:
            day = self.bound_day(restriction.earliest)
        if not restriction.catchup:
            day = max(day, self.latest_due_day(_utcnow()))
        if restriction.latest is not None and day > self.bound_day(restriction.latest):
            return None
        return DagRunInfo(run_after=self.runs_at(day), data_interval=self.day_interval(day))

    def generate_run_id(
        self,
        *,
        run_type: Any,
        run_after: DateTime,
        data_interval: DataInterval | None,
        **extra: Any,
    ) -> str:
        if str(run_type) == "scheduled" and data_interval is not None:
            # One scheduled run per day: its ID names the day (with the offset, so a change of
            # zone cannot make two days share an ID).
            start = pendulum.instance(data_interval.start).in_timezone(self.timezone)
            return run_type.generate_run_id(suffix=start.isoformat())
        return super().generate_run_id(
            run_type=run_type, run_after=run_after, data_interval=data_interval, **extra
        )

    # --- days ---------------------------------------------------------------------------------

    @property
    def _clock(self) -> str:
        return f"{self.run_hour:02d}:{self.run_minute:02d}"

    def day_start(self, day: date) -> pendulum.DateTime:
        """Local midnight starting ``day`` (a UTC instant): the logical date of its run."""
        local = pendulum.datetime(day.year, day.month, day.day, tz=self.timezone)
        return local.in_timezone("UTC")

    def day_interval(self, day: date) -> DataInterval:
        return DataInterval(self.day_start(day), self.day_start(day + _DAY))

    def day_of(self, instant: datetime) -> date:
        """The local date of ``instant``."""
        return pendulum.instance(instant).in_timezone(self.timezone).date()

    def runs_at(self, day: date) -> pendulum.DateTime:
        """When the run for ``day`` happens: the next morning at the run time, local."""
        after = day + _DAY
        local = pendulum.datetime(
            after.year, after.month, after.day, self.run_hour, self.run_minute, tz=self.timezone
        )
        return local.in_timezone("UTC")

    def latest_due_day(self, now: datetime) -> date:
        """The last day whose run time has come by ``now``."""
        local = pendulum.instance(now).in_timezone(self.timezone)
        if local.time() >= time(self.run_hour, self.run_minute):
            return local.date() - _DAY
        return local.date() - 2 * _DAY

    @staticmethod
    def bound_day(bound: datetime) -> date:
        """The day a backfill bound names: the date written in it (its wall-clock reading).

        ``airflow backfill create --to-date 2026-11-07`` passes Nov 7 00:00 UTC; that bound
        means the day Nov 7, whichever zone the company is in (Airflow reads partitioned
        timetables' bounds the same way).
        """
        return bound.date()
