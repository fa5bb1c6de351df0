"""The working-day calendar against the State Council's 2026 holiday schedule, every expected date counted by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from servicekit.calendar import (
    add_calendar_days,
    add_working_days,
    end_of_day,
    is_working_day,
    local_date,
    working_days_after,
)

# 国办发明电〔2025〕7号, the 2026 schedule: weekdays off and weekend days worked.
OFFICIAL_2026_WEEKDAYS_OFF = {
    date(2026, 1, 1), date(2026, 1, 2),                                         # 元旦 1.1-1.3
    date(2026, 2, 16), date(2026, 2, 17), date(2026, 2, 18), date(2026, 2, 19),  # 春节 2.15-2.23
    date(2026, 2, 20), date(2026, 2, 23),
    date(2026, 4, 6),                                                           # 清明 4.4-4.6
    date(2026, 5, 1), date(2026, 5, 4), date(2026, 5, 5),                       # 劳动节 5.1-5.5
    date(2026, 6, 19),                                                          # 端午 6.19-6.21
    date(2026, 9, 25),                                                          # 中秋 9.25-9.27
    date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 5), date(2026, 10, 6),  # 国庆 10.1-10.7
    date(2026, 10, 7),
}
OFFICIAL_2026_WEEKENDS_WORKED = {
    date(2026, 1, 4),    # Sunday, for 元旦
    date(2026, 2, 14),   # Saturday, for 春节
    date(2026, 2, 28),   # Saturday, for 春节
    date(2026, 5, 9),    # Saturday, for 劳动节
    date(2026, 9, 20),   # Sunday, for 国庆
    date(2026, 10, 10),  # Saturday, for 国庆
}


def test_the_2026_calendar_matches_the_official_schedule() -> None:
    days = [date(2026, 1, 1) + timedelta(days=offset) for offset in range(365)]
    weekdays_off = {day for day in days if day.weekday() < 5 and not is_working_day(day)}
    weekends_worked = {day for day in days if day.weekday() >= 5 and is_working_day(day)}
    assert weekdays_off == OFFICIAL_2026_WEEKDAYS_OFF
    assert weekends_worked == OFFICIAL_2026_WEEKENDS_WORKED


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 1, 1), False),    # Thu, 元旦
        (date(2026, 1, 2), False),    # Fri, day off swapped from Sun 1.4
        (date(2026, 1, 4), True),     # Sun, worked
        (date(2026, 2, 14), True),    # Sat, worked before 春节
        (date(2026, 2, 23), False),   # Mon, last day of 春节
        (date(2026, 2, 28), True),    # Sat, worked after 春节
        (date(2026, 4, 6), False),    # Mon, 清明 observed
        (date(2026, 5, 9), True),     # Sat, worked for 劳动节
        (date(2026, 6, 19), False),   # Fri, 端午
        (date(2026, 9, 20), True),    # Sun, worked for 国庆
        (date(2026, 9, 25), False),   # Fri, 中秋
        (date(2026, 10, 7), False),   # Wed, last day of 国庆
        (date(2026, 10, 10), True),   # Sat, worked for 国庆
        (date(2026, 11, 28), False),  # an ordinary Saturday
        (date(2026, 11, 30), True),   # an ordinary Monday
    ],
)
def test_is_working_day(day: date, working: bool) -> None:
    assert is_working_day(day) is working


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # Wed 12.31; 1.1-1.3 off; Sun 1.4 worked = 1
        (date(2025, 12, 31), 1, date(2026, 1, 4)),
        # Wed 12.31; 1.4(1) 1.5(2) 1.6(3) 1.7(4) 1.8(5) 1.9(6); weekend 1.10-1.11; Mon 1.12(7)
        (date(2025, 12, 31), 7, date(2026, 1, 12)),
        # Fri 2.13; Sat 2.14 worked = 1
        (date(2026, 2, 13), 1, date(2026, 2, 14)),
        # Fri 2.13; 2.14(1); 2.15-2.23 off; 2.24(2) 2.25(3) 2.26(4) 2.27(5) Sat 2.28(6); Sun 3.1 off; Mon 3.2(7)
        (date(2026, 2, 13), 7, date(2026, 3, 2)),
        # Tue 2.10; 2.11(1) 2.12(2) 2.13(3) 2.14(4); 2.24(5) 2.25(6) 2.26(7) 2.27(8) 2.28(9); 3.2(10)
        (date(2026, 2, 10), 10, date(2026, 3, 2)),
        # Thu 4.2; Fri 4.3(1); 4.4-4.6 off; Tue 4.7(2)
        (date(2026, 4, 2), 2, date(2026, 4, 7)),
        # Thu 4.30; 5.1-5.5 off; 5.6(1) 5.7(2) 5.8(3) Sat 5.9(4); Sun 5.10 off; 5.11(5) 5.12(6) 5.13(7)
        (date(2026, 4, 30), 7, date(2026, 5, 13)),
        # Thu 6.18; 6.19-6.21 off; Mon 6.22(1)
        (date(2026, 6, 18), 1, date(2026, 6, 22)),
        # Fri 9.18; Sat 9.19 off; Sun 9.20 worked(1)
        (date(2026, 9, 18), 1, date(2026, 9, 20)),
        # Thu 9.24; 9.25-9.27 off; Mon 9.28(1)
        (date(2026, 9, 24), 1, date(2026, 9, 28)),
        # Wed 9.30; 10.1-10.7 off; 10.8(1) 10.9(2) Sat 10.10(3); Sun 10.11 off; 10.12(4)..10.16(8); 10.19(9) 10.20(10)
        (date(2026, 9, 30), 10, date(2026, 10, 20)),
        # Sat 10.3, a holiday, as start day: not counted; 10.4-10.7 off; Thu 10.8(1)
        (date(2026, 10, 3), 1, date(2026, 10, 8)),
        # Sat 11.28 (architecture.md example); 11.30(1) 12.1(2) 12.2(3) 12.3(4) 12.4(5) 12.7(6) .. 12.11(10)
        (date(2026, 11, 28), 10, date(2026, 12, 11)),
    ],
)
def test_add_working_days(start: date, n: int, expected: date) -> None:
    assert add_working_days(start, n) == expected


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # 1.1 + 30 = 1.31, + 28 = 2.28, + 2 = 3.2 (Mon, working): stays
        (date(2026, 1, 1), 60, date(2026, 3, 2)),
        # 1.17 + 14 = 1.31, + 16 = 2.16 (春节 eve, off); 2.16-2.23 off; first working day after: Tue 2.24
        (date(2026, 1, 17), 30, date(2026, 2, 24)),
        # 1.29 + 2 = 1.31, + 28 = 2.28, a Saturday worked: stays
        (date(2026, 1, 29), 30, date(2026, 2, 28)),
        # 4.1 + 29 = 4.30, + 1 = 5.1 (劳动节); 5.1-5.5 off; Wed 5.6
        (date(2026, 4, 1), 30, date(2026, 5, 6)),
        # Sun 3.1 + 7 = Sun 3.8 (rest day); Mon 3.9
        (date(2026, 3, 1), 7, date(2026, 3, 9)),
        # 8.2 + 29 = 8.31, + 30 = 9.30, + 1 = 10.1 (国庆); 10.1-10.7 off; Thu 10.8
        (date(2026, 8, 2), 60, date(2026, 10, 8)),
        # Sun 9.13 + 7 = Sun 9.20, worked for 国庆: stays
        (date(2026, 9, 13), 7, date(2026, 9, 20)),
        # 3.6 + 25 = 3.31, + 5 = 4.5 (清明); 4.4-4.6 off; Tue 4.7
        (date(2026, 3, 6), 30, date(2026, 4, 7)),
        # 6.12 + 7 = Fri 6.19 (端午); 6.19-6.21 off; Mon 6.22
        (date(2026, 6, 12), 7, date(2026, 6, 22)),
        # 9.18 + 7 = Fri 9.25 (中秋); 9.25-9.27 off; Mon 9.28
        (date(2026, 9, 18), 7, date(2026, 9, 28)),
        # 12.2 + 30 = 1.1 2027 (元旦 falls on a Friday): rolls past the holiday and the weekend to Mon 1.4
        (date(2026, 12, 2), 30, date(2027, 1, 4)),
    ],
)
def test_add_calendar_days(start: date, n: int, expected: date) -> None:
    assert add_calendar_days(start, n) == expected


@pytest.mark.parametrize(("today", "last", "expected"), [
    (date(2026, 9, 28), date(2026, 10, 9), 4),  # Tue 29, Wed 30 Sep, then Thu 8 and Fri 9 Oct (Oct 1-7 off)
    (date(2026, 10, 9), date(2026, 10, 9), 0),  # the last day itself
    (date(2026, 10, 12), date(2026, 10, 9), 0),  # past it
    (date(2026, 10, 9), date(2026, 10, 12), 2),  # Sat 10 Oct is worked, Mon 12
])
def test_working_days_after(today: date, last: date, expected: int) -> None:
    assert working_days_after(today, last) == expected


def test_negative_periods_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_working_days(date(2026, 1, 5), -1)
    with pytest.raises(ValueError, match="negative"):
        add_calendar_days(date(2026, 1, 5), -1)


def test_local_date_is_the_shanghai_date() -> None:
    # 16:00 UTC is midnight in Asia/Shanghai (UTC+8, no daylight saving).
    assert local_date(datetime(2026, 9, 30, 16, 0, tzinfo=UTC)) == date(2026, 10, 1)
    assert local_date(datetime(2026, 9, 30, 15, 59, 59, tzinfo=UTC)) == date(2026, 9, 30)


def test_local_date_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_date(datetime(2026, 9, 30, 12, 0))


def test_a_period_runs_out_at_shanghai_midnight_after_its_last_day() -> None:
    due_at = end_of_day(date(2026, 12, 11))
    assert due_at == datetime(2026, 12, 11, 16, 0, tzinfo=UTC)
    assert due_at.utcoffset() == timedelta(0)
