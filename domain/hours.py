"""Service hours (志愿服务时长): the check-in window, the time served and its rounding.

Hours are actual service time (《志愿服务记录与证明出具办法（试行）》): the time between
check-in and check-out, clipped to the activity's start and end (arriving early or staying late
is not service). Each started hour is rounded as 志愿山城 does: a remainder of at most 15 minutes
counts 0, more than 15 up to 45 minutes counts half an hour, more than 45 minutes a full hour.

All datetimes given to one function must be in the same frame (we pass naive UTC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from domain.errors import ValidationError

__all__ = [
    "CHECK_IN_OPENS_BEFORE",
    "CHECK_OUT_CLOSES_AFTER",
    "Window",
    "check_in_window",
    "format_hours",
    "parse_day",
    "parse_hours",
    "round_minutes",
    "served_hours",
    "served_minutes",
]

CHECK_IN_OPENS_BEFORE = timedelta(minutes=30)
CHECK_OUT_CLOSES_AFTER = timedelta(hours=1)

HALF = Decimal("0.5")
ONE = Decimal(1)
# The largest number of hours an organiser may type for one person and one activity.
MAX_ADJUSTED_HOURS = Decimal(24 * 7)


@dataclass(frozen=True)
class Window:
    """When scanning the 签到/签退 codes is accepted: 30 min before the start to 1 h after the
    end."""

    opens: datetime
    closes: datetime

    def early(self, now: datetime) -> bool:
        return now < self.opens

    def late(self, now: datetime) -> bool:
        return now > self.closes

    def contains(self, now: datetime) -> bool:
        return self.opens <= now <= self.closes


def check_in_window(starts_at: datetime, ends_at: datetime) -> Window:
    return Window(starts_at - CHECK_IN_OPENS_BEFORE, ends_at + CHECK_OUT_CLOSES_AFTER)


def served_minutes(
    checked_in: datetime, checked_out: datetime, starts_at: datetime, ends_at: datetime
) -> int:
    """Whole minutes between check-in and check-out inside [starts_at, ends_at] (never below 0)."""
    begin = max(checked_in, starts_at)
    end = min(checked_out, ends_at)
    if end <= begin:
        return 0
    return int((end - begin).total_seconds() // 60)


def round_minutes(minutes: int) -> Decimal:
    """Hours for `minutes` of service: full hours, and the started hour's remainder rounded
    (≤ 15 min → 0, 15–45 min → 0.5, over 45 min → 1)."""
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    full, remainder = divmod(minutes, 60)
    if remainder <= 15:
        part = Decimal(0)
    elif remainder <= 45:
        part = HALF
    else:
        part = ONE
    return Decimal(full) + part


def served_hours(
    checked_in: datetime, checked_out: datetime, starts_at: datetime, ends_at: datetime
) -> Decimal:
    return round_minutes(served_minutes(checked_in, checked_out, starts_at, ends_at))


def format_hours(hours: Decimal | float | int) -> str:
    """「3」, 「2.5」, 「0」: hours as people write them (no trailing .0)."""
    value = Decimal(str(hours)).quantize(Decimal("0.1"))
    text = f"{value:f}"
    return text[:-2] if text.endswith(".0") else text


def parse_hours(text: str) -> Decimal | None:
    """Hours an organiser typed: a multiple of 0.5 between 0 and a week; None if not."""
    try:
        value = Decimal(text.strip().removesuffix("小时").removesuffix("h").strip())
    except ArithmeticError:
        return None
    if not value.is_finite() or value < 0 or value > MAX_ADJUSTED_HOURS:
        return None
    if (value / HALF) != (value / HALF).to_integral_value():
        return None
    return value.quantize(Decimal("0.1"))


_DATE_RE = re.compile(r"^(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*日?$")


def parse_day(text: str) -> date:
    """A date typed in chat: 2026-05-01, 2026.5.1, 2026/5/1 or 2026年5月1日."""
    found = _DATE_RE.match(text.strip())
    if found is None:
        raise ValidationError("请按「2026-05-01」的格式输入日期。")
    try:
        return date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
    except ValueError:
        raise ValidationError("这个日期不存在，请检查后重新输入。") from None
