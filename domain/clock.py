"""Time for people: everything is stored in UTC (naive datetimes, as the database keeps them) and
shown in Beijing time. China has one time zone and no daylight saving time, but we still go
through zoneinfo so the rule lives in one place."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

__all__ = [
    "BEIJING_TZ",
    "beijing_date",
    "beijing_now",
    "from_beijing",
    "show",
    "show_date",
    "to_beijing",
    "utcnow",
]

BEIJING_TZ = ZoneInfo("Asia/Shanghai")

DATETIME_FORMAT = "%Y-%m-%d %H:%M"
DATE_FORMAT = "%Y-%m-%d"


def utcnow() -> datetime:
    """Now in UTC, naive (the form stored in the database)."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_beijing(value: datetime) -> datetime:
    """A stored UTC time (naive or aware) as an aware Beijing time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(BEIJING_TZ)


def from_beijing(value: datetime) -> datetime:
    """A wall-clock time people typed in Beijing time (naive or aware) as naive UTC for storage."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=BEIJING_TZ)
    return value.astimezone(UTC).replace(tzinfo=None)


def beijing_now() -> datetime:
    """Now as an aware Beijing time."""
    return to_beijing(utcnow())


def beijing_date(value: datetime | None = None) -> date:
    """The calendar date in Beijing of a stored UTC time (default: now)."""
    return to_beijing(value or utcnow()).date()


def show(value: datetime | None, fmt: str = DATETIME_FORMAT, empty: str = "") -> str:
    """The one formatter for a stored UTC time shown to people (chat, console, exports, notices)."""
    return to_beijing(value).strftime(fmt) if value is not None else empty


def show_date(value: datetime | None, empty: str = "") -> str:
    return show(value, DATE_FORMAT, empty)
