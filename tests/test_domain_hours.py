from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from domain.errors import ValidationError
from domain.hours import (
    check_in_window,
    format_hours,
    parse_day,
    parse_hours,
    round_minutes,
    served_hours,
    served_minutes,
)
from domain.stars import standing

START = datetime(2026, 12, 5, 1, 0)  # 09:00 in Beijing, stored as UTC
END = datetime(2026, 12, 5, 5, 0)  # 13:00 in Beijing


@pytest.mark.parametrize(
    ("minutes", "hours"),
    [
        (0, "0"),
        (10, "0"),
        (15, "0"),
        (16, "0.5"),
        (30, "0.5"),
        (45, "0.5"),
        (46, "1"),
        (59, "1"),
        (60, "1"),
        (75, "1"),
        (76, "1.5"),
        (105, "1.5"),
        (106, "2"),
        (135, "2"),
        (136, "2.5"),
        (240, "4"),
        (255, "4"),
        (256, "4.5"),
    ],
)
def test_each_started_hour_rounds_by_its_remainder(minutes: int, hours: str) -> None:
    assert round_minutes(minutes) == Decimal(hours)


def test_negative_minutes_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        round_minutes(-1)


@pytest.mark.parametrize(
    ("checked_in", "checked_out", "minutes"),
    [
        (START, END, 240),  # exactly the activity
        (START - timedelta(minutes=30), END + timedelta(minutes=50), 240),  # early and late
        (START + timedelta(minutes=20), END, 220),  # came late
        (START, START + timedelta(minutes=95, seconds=59), 95),  # seconds drop
        (END + timedelta(minutes=5), END + timedelta(minutes=30), 0),  # only after the end
        (START - timedelta(minutes=29), START - timedelta(minutes=1), 0),  # only before
        (START + timedelta(hours=2), START + timedelta(hours=1), 0),  # out before in
    ],
)
def test_served_time_is_clipped_to_the_activity(
    checked_in: datetime, checked_out: datetime, minutes: int
) -> None:
    assert served_minutes(checked_in, checked_out, START, END) == minutes


def test_served_hours_combine_clipping_and_rounding() -> None:
    assert served_hours(START - timedelta(hours=1), START + timedelta(minutes=100), START, END) == (
        Decimal("1.5")
    )
    assert served_hours(START, END + timedelta(hours=3), START, END) == Decimal(4)


def test_check_in_window_is_half_an_hour_before_to_an_hour_after() -> None:
    window = check_in_window(START, END)
    assert window.opens == START - timedelta(minutes=30)
    assert window.closes == END + timedelta(hours=1)
    assert window.early(START - timedelta(minutes=31))
    assert window.contains(START - timedelta(minutes=30))
    assert window.contains(END + timedelta(minutes=60))
    assert window.late(END + timedelta(minutes=61))
    assert not window.contains(END + timedelta(minutes=61))


@pytest.mark.parametrize(
    ("value", "text"), [(Decimal("3.0"), "3"), (Decimal("2.5"), "2.5"), (0, "0"), (12.5, "12.5")]
)
def test_hours_are_written_without_a_trailing_zero(value: Decimal | int | float, text: str) -> None:
    assert format_hours(value) == text


@pytest.mark.parametrize(
    ("typed", "value"),
    [("3", "3"), ("2.5", "2.5"), ("1.5小时", "1.5"), ("0", "0"), (" 4 ", "4")],
)
def test_organiser_types_hours_in_half_hours(typed: str, value: str) -> None:
    assert parse_hours(typed) == Decimal(value)


@pytest.mark.parametrize("typed", ["", "abc", "-1", "2.3", "1000", "NaN", "inf", "1e400"])
def test_other_hour_values_are_refused(typed: str) -> None:
    assert parse_hours(typed) is None


@pytest.mark.parametrize(
    ("hours", "level", "next_level", "to_next"),
    [
        ("0", None, "一星", "100"),
        ("99.5", None, "一星", "0.5"),
        ("100", "一星", "二星", "200"),
        ("299.5", "一星", "二星", "0.5"),
        ("300", "二星", "三星", "300"),
        ("600", "三星", "四星", "400"),
        ("1000", "四星", "五星", "500"),
        ("1499", "四星", "五星", "1"),
        ("1500", "五星", None, None),
        ("2000", "五星", None, None),
    ],
)
def test_star_levels_and_hours_to_the_next(
    hours: str, level: str | None, next_level: str | None, to_next: str | None
) -> None:
    result = standing(Decimal(hours))
    assert result.level == level
    assert result.next_level == next_level
    assert result.hours_to_next == (Decimal(to_next) if to_next else None)


def test_below_the_first_star_reads_as_not_rated() -> None:
    assert standing(Decimal(5)).level_text == "暂未评星"
    assert standing(Decimal(300)).level_text == "二星志愿者"


@pytest.mark.parametrize(
    "typed", ["2026-05-01", "2026.5.1", "2026/05/01", "2026年5月1日", " 2026-5-1 "]
)
def test_dates_typed_in_chat(typed: str) -> None:
    assert parse_day(typed) == date(2026, 5, 1)


@pytest.mark.parametrize("typed", ["5月1日", "2026-13-01", "2026-02-30", "昨天", ""])
def test_other_dates_get_a_hint(typed: str) -> None:
    with pytest.raises(ValidationError) as error:
        parse_day(typed)
    assert "日期" in error.value.hint
