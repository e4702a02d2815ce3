"""Small Chinese numerals as people say them for numbered choices: 一 … 二十 (and 两)."""

from __future__ import annotations

import re

__all__ = ["small_number"]

_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_FORM = re.compile(r"^(?:(二)?(十))?([一二三四五六七八九])?$")


def small_number(text: str) -> int | None:
    """一 → 1, 十 → 10, 十二 → 12, 二十 → 20; anything else (including 二十一) → None."""
    if text == "两":
        return 2
    match = _FORM.match(text)
    if not text or match is None:
        return None
    tens_digit, ten, unit = match.groups()
    if ten is None:
        return _DIGITS[unit] if unit else None
    if tens_digit and unit:
        return None  # 二十一 and above: never a menu number here
    value = (_DIGITS[tens_digit] if tens_digit else 1) * 10 + (_DIGITS[unit] if unit else 0)
    return value if value <= 20 else None
