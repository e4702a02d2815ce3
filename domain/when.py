"""Dates and times typed in chat (Beijing wall-clock time): 「2026-12-05 09:00」, 「12月5日 9:00」,
「12/5 14:30」, 「下午2点半」 after a date, or only 「17:00」 for a time on a day already given."""

from __future__ import annotations

import re
from datetime import date, datetime, time

from domain.errors import ValidationError
from domain.text import normalize

__all__ = ["parse_day_time", "parse_time_on"]

_DATE = re.compile(
    r"^(?:(?P<year>\d{4})\s*[年\-/.]\s*)?(?P<month>\d{1,2})\s*[月\-/.]\s*(?P<day>\d{1,2})\s*[日号]?"
)
_TIME = re.compile(
    r"^(?P<half>上午|早上|中午|下午|晚上)?\s*(?P<hour>\d{1,2})\s*(?:[:：点时]\s*(?P<minute>\d{1,2}|半)?\s*分?)?$"
)
HINT_DAY_TIME = "请按「12月5日 9:00」或「2026-12-05 09:00」的格式输入日期和时间。"
HINT_TIME = "请按「17:00」或「12月5日 17:00」的格式输入时间。"


def _time(text: str) -> time | None:
    match = _TIME.match(text.strip())
    if match is None:
        return None
    hour = int(match["hour"])
    minute_text = match["minute"]
    minute = 30 if minute_text == "半" else int(minute_text or 0)
    if match["half"] in ("下午", "晚上") and hour < 12:
        hour += 12
    if match["half"] == "中午" and hour < 6:
        hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)


def _split(text: str, today: date) -> tuple[date, str] | None:
    match = _DATE.match(text)
    if match is None:
        return None
    month, day = int(match["month"]), int(match["day"])
    year = int(match["year"]) if match["year"] else today.year
    try:
        found = date(year, month, day)
    except ValueError:
        raise ValidationError("没有这一天，请检查日期。") from None
    if not match["year"] and found < today:
        found = date(year + 1, month, day)  # 「1月5日」 typed in December means next year
    return found, text[match.end() :]


def parse_day_time(text: str, today: date) -> datetime:
    """A date and a time, e.g. 「12月5日 9:00」 (naive, Beijing time)."""
    clean = normalize(text).strip()
    split = _split(clean, today)
    if split is None:
        raise ValidationError(HINT_DAY_TIME)
    day, rest = split
    at = _time(rest) if rest.strip() else None
    if at is None:
        raise ValidationError(HINT_DAY_TIME)
    return datetime.combine(day, at)


def parse_time_on(text: str, day: date, today: date) -> datetime:
    """A time on `day` (「17:00」), or a full date and time (naive, Beijing time)."""
    clean = normalize(text).strip()
    at = _time(clean)
    if at is not None:
        return datetime.combine(day, at)
    try:
        return parse_day_time(clean, today)
    except ValidationError:
        raise ValidationError(HINT_TIME) from None
