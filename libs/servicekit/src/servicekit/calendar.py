"""The one working-day calendar of the platform: China, zone Asia/Shanghai, periods counted per Order 121 Art. 45.

Art. 45: the start day is not counted, counting begins on the next day; when the last day of a period falls on a
public holiday or rest day, the period ends on the first working day after it. Working days come from the
`holidays` package: China's public holidays, the days off swapped into the week, and the weekends worked instead.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

ZONE = ZoneInfo("Asia/Shanghai")


@lru_cache(maxsize=64)
def _year(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(days off, weekend days worked) of one year; built once, immutable afterwards."""
    china = holidays.country_holidays("CN", years=year)
    days_off = frozenset(day for day in china if day.year == year)
    weekend_workdays = frozenset(day for day in china.weekend_workdays if day.year == year)
    return days_off, weekend_workdays


def preload(today: date) -> None:
    """Build the calendars of `today`'s year and the next now (at a service's start-up) rather than in the first
    requests that count a period: the holidays package takes a good fraction of a second per year."""
    _year(today.year)
    _year(today.year + 1)


def is_working_day(day: date) -> bool:
    """True on Monday-Friday that is not a public holiday or swapped day off, and on a weekend day worked."""
    days_off, weekend_workdays = _year(day.year)
    if day.weekday() >= 5:
        return day in weekend_workdays
    return day not in days_off


def next_working_day(day: date) -> date:
    """The first working day strictly after `day`."""
    candidate = day + timedelta(days=1)
    while not is_working_day(candidate):
        candidate += timedelta(days=1)
    return candidate


@lru_cache(maxsize=4096)
def add_working_days(start: date, n: int) -> date:
    """The last day of a period of `n` working days starting on `start` (the start day itself is not counted)."""
    if n < 0:
        raise ValueError("a period cannot be negative")
    day = start
    for _ in range(n):
        day = next_working_day(day)
    return day


@lru_cache(maxsize=4096)
def working_days_after(today: date, last: date) -> int:
    """How many working days follow `today` up to and including `last`: what is left of a period ending on `last`
    (0 on its last day and after it)."""
    count = 0
    day = today
    while (day := next_working_day(day)) <= last:
        count += 1
    return count


def add_calendar_days(start: date, n: int) -> date:
    """The last day of a period of `n` calendar days from `start`, moved past a holiday or rest day it lands on."""
    if n < 0:
        raise ValueError("a period cannot be negative")
    last = start + timedelta(days=n)
    return last if is_working_day(last) else next_working_day(last)


def local_date(moment: datetime) -> date:
    """The date in Asia/Shanghai of a timezone-aware instant."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place in time; pass a timezone-aware one")
    return moment.astimezone(ZONE).date()


def end_of_day(day: date) -> datetime:
    """The instant a period ending on `day` runs out: midnight after it in Asia/Shanghai, given in UTC."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=ZONE).astimezone(UTC)
