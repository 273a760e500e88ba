"""Which days a run covers, from whatever the run knows about itself.

A run can be scheduled (a day-long data interval), part of a backfill (the same), manual with an
explicit ``start_date``/``end_date`` range, or manual with no logical date at all (Airflow 3 then
gives no data interval). All four end up as one :class:`SyncWindow` of whole days in the
company's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Divvy began in 2016: a day before 2000 is a typo (0001-01-01, 1926), never a range to sync.
EARLIEST_DAY = date(2000, 1, 1)
# One run re-reads its whole range from Divvy (60 calls a minute) and reconciles every day of
# it; a longer range is far more often a mistyped year than a wish, and splits into runs.
MAX_PARAM_DAYS = 366
# Month names for labels, fixed (strftime's %b follows the machine's locale).
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EN_DASH = "\u2013"


class WindowError(ValueError):
    """The run's parameters do not describe a usable range of days."""


def local_date(instant: datetime, timezone: str) -> date:
    """The date of ``instant`` in ``timezone``: the one rule that turns a time into a day."""
    if instant.tzinfo is None:
        raise WindowError(f"timestamp {instant.isoformat()} has no time zone")
    return instant.astimezone(ZoneInfo(timezone)).date()


@dataclass(frozen=True)
class SyncWindow:
    """Posting days ``first_day..last_day`` (inclusive) plus the lookback before them.

    ``extract_from``/``extract_to`` are the UTC instants of the half-open extraction window:
    local midnight of ``first_day - lookback`` to local midnight after ``last_day``.
    """

    first_day: date
    last_day: date
    lookback_days: int
    timezone: str
    source: str

    @property
    def lookback_from(self) -> date:
        return self.first_day - timedelta(days=self.lookback_days)

    @property
    def extract_from(self) -> datetime:
        return _local_midnight(self.lookback_from, self.timezone)

    @property
    def extract_to(self) -> datetime:
        return _local_midnight(self.last_day + timedelta(days=1), self.timezone)

    def days(self, *, with_lookback: bool = True) -> list[date]:
        start = self.lookback_from if with_lookback else self.first_day
        return [start + timedelta(days=n) for n in range((self.last_day - start).days + 1)]

    def posting_date(self, instant: datetime) -> date:
        """The transaction date of ``instant`` in the company's time zone."""
        return local_date(instant, self.timezone)

    def label(self) -> str:
        """The run's days as a person reads them (without the lookback): ``Nov 1, 2026
        (America/Chicago)``, ``Nov 1-7, 2026 (...)``, ``Oct 30 - Nov 2, 2026 (...)``, with an
        en dash for the range."""
        a, b = self.first_day, self.last_day

        def day(d: date) -> str:
            return f"{_MONTHS[d.month - 1]} {d.day}"

        if a == b:
            days = f"{day(a)}, {a.year}"
        elif (a.year, a.month) == (b.year, b.month):
            days = f"{day(a)}{_EN_DASH}{b.day}, {a.year}"
        elif a.year == b.year:
            days = f"{day(a)} {_EN_DASH} {day(b)}, {a.year}"
        else:
            days = f"{day(a)}, {a.year} {_EN_DASH} {day(b)}, {b.year}"
        return f"{days} ({self.timezone})"

    def to_public_dict(self) -> dict[str, str | int]:
        return {
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "lookback_days": self.lookback_days,
            "lookback_from": self.lookback_from.isoformat(),
            "timezone": self.timezone,
            "extract_from_utc": self.extract_from.isoformat(),
            "extract_to_utc": self.extract_to.isoformat(),
            "source": self.source,
            "label": self.label(),
        }


def _local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def _parse_day(value: object, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError as exc:
        raise WindowError(
            f"param {name}={value!r} is not a date; use YYYY-MM-DD, e.g. 2026-11-01"
        ) from exc


def _check_plausible(first: date, last: date, run_after: datetime | None, timezone: str) -> None:
    for name, day in (("start_date", first), ("end_date", last)):
        if day < EARLIEST_DAY:
            raise WindowError(
                f"param {name}={day} is before {EARLIEST_DAY}; give a day from {EARLIEST_DAY} on"
            )
    if run_after is not None:
        today = run_after.astimezone(ZoneInfo(timezone)).date()
        # One day of slack: whoever triggers the run may be a time zone ahead of the company.
        latest = today + timedelta(days=1)
        for name, day in (("start_date", first), ("end_date", last)):
            if day > latest:
                raise WindowError(
                    f"param {name}={day} is after {latest}, the day after the run's own day "
                    f"({today} in {timezone}); a day that has not come has nothing to sync, "
                    f"give an earlier {name}"
                )
    span = (last - first).days + 1
    if span > MAX_PARAM_DAYS:
        raise WindowError(
            f"params start_date={first} and end_date={last} span {span} days; one run syncs "
            f"at most {MAX_PARAM_DAYS} days, split the range into several runs"
        )


def resolve_window(
    *,
    params: dict[str, object] | None,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    run_after: datetime | None,
    timezone: str,
    lookback_days: int,
) -> SyncWindow:
    """Work out the days a run covers.

    Precedence: explicit ``start_date``/``end_date`` params (inclusive days), then the data
    interval (as many days as it is long, from the local date of its start), then, for a manual
    run without a logical date, the day before ``run_after``.
    """
    try:
        window = _resolve(
            params or {},
            data_interval_start,
            data_interval_end,
            run_after,
            timezone,
            lookback_days,
        )
        # Evaluated here, once, so a window that leaves datetime's range (year 1 or 9999,
        # a huge lookback) fails as a WindowError, not later as an OverflowError.
        window.extract_from, window.extract_to  # noqa: B018
    except OverflowError as exc:
        raise WindowError(
            f"the run's days with a lookback of {lookback_days} days fall outside the calendar "
            f"({exc}); check the run's dates and the lookback_days setting"
        ) from exc
    return window


def _resolve(
    params: dict[str, object],
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    run_after: datetime | None,
    timezone: str,
    lookback_days: int,
) -> SyncWindow:
    start_param, end_param = params.get("start_date"), params.get("end_date")
    if start_param or end_param:
        if not (start_param and end_param):
            raise WindowError(
                "give both start_date and end_date (inclusive, YYYY-MM-DD), or neither"
            )
        first, last = _parse_day(start_param, "start_date"), _parse_day(end_param, "end_date")
        if last < first:
            raise WindowError(f"end_date {last} is before start_date {first}; swap them")
        _check_plausible(first, last, run_after, timezone)
        return SyncWindow(first, last, lookback_days, timezone, "params")

    zone = ZoneInfo(timezone)
    # A zero-width interval (CronTriggerTimetable, or a manual run) covers no day: fall through.
    if (
        data_interval_start is not None
        and data_interval_end is not None
        and data_interval_end > data_interval_start
    ):
        # The interval names days, it does not cut them. LocalDayTimetable's interval is the
        # local day itself (midnight to midnight); runs made before it (CronDataInterval at
        # 06:00) have 06:00→06:00 intervals, and the one starting on Nov 21 means "Nov 21".
        # Either way the local date of the start is the first day, and the length in days
        # (rounded, so 23/25-hour DST days count as one) says how many days follow.
        first = data_interval_start.astimezone(zone).date()
        seconds = (data_interval_end - data_interval_start).total_seconds()  # pendulum-safe
        span = max(1, round(seconds / 86_400))
        return SyncWindow(
            first, first + timedelta(days=span - 1), lookback_days, timezone, "data_interval"
        )

    if run_after is None:
        raise WindowError("the run has neither a data interval nor a run_after time")
    day = run_after.astimezone(zone).date() - timedelta(days=1)
    return SyncWindow(day, day, lookback_days, timezone, "run_after")
