"""Dates and times typed in chat, in Beijing time."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from domain.errors import ValidationError
from domain.when import parse_day_time, parse_time_on

TODAY = date(2026, 11, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-05 09:00", datetime(2026, 12, 5, 9, 0)),
        ("2026年12月5日 9:00", datetime(2026, 12, 5, 9, 0)),
        ("12月5日 9:00", datetime(2026, 12, 5, 9, 0)),
        ("12月5号9点", datetime(2026, 12, 5, 9, 0)),
        ("12/5 14:30", datetime(2026, 12, 5, 14, 30)),
        ("12月5日 下午2点半", datetime(2026, 12, 5, 14, 30)),
        ("１２月５日　９：００", datetime(2026, 12, 5, 9, 0)),
        ("1月5日 9:00", datetime(2027, 1, 5, 9, 0)),
    ],
)
def test_day_and_time(text: str, expected: datetime) -> None:
    assert parse_day_time(text, TODAY) == expected


@pytest.mark.parametrize("text", ["明天", "12月5日", "9:00", "2月30日 9:00", "12月5日 25:00"])
def test_bad_day_and_time(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_day_time(text, TODAY)


def test_time_on_the_same_day_or_another() -> None:
    day = date(2026, 12, 5)
    assert parse_time_on("17:00", day, TODAY) == datetime(2026, 12, 5, 17, 0)
    assert parse_time_on("12月6日 17:00", day, TODAY) == datetime(2026, 12, 6, 17, 0)
    with pytest.raises(ValidationError):
        parse_time_on("傍晚", day, TODAY)
