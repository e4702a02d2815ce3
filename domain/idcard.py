"""Resident identity card numbers (GB 11643-1999).

Layout: 6-digit address code, birth date YYYYMMDD, 3-digit sequence (odd = male), check character.
Address codes are deliberately not checked against today's division list: codes of merged or
renamed divisions stay valid on cards issued earlier.

Hints never repeat the number the user typed: the ID number is sensitive personal information.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from domain.errors import Ineligible, ValidationError
from domain.text import normalize

__all__ = [
    "HINT_BAD_BIRTH_DATE",
    "HINT_BAD_CHECK_DIGIT",
    "HINT_BAD_FORMAT",
    "HINT_OLD_15_DIGITS",
    "HINT_UNDER_AGE",
    "MIN_AGE",
    "IdCard",
    "check_adult",
    "compute_check_digit",
    "is_valid_check_digit",
    "mask_id_number",
    "parse_id_number",
]

MIN_AGE = 18

HINT_BAD_FORMAT = "身份证号应为18位，最后一位可以是数字或X，请重新输入"
HINT_OLD_15_DIGITS = "15位的老身份证号已不再使用，请输入第二代身份证上的18位号码"
HINT_BAD_BIRTH_DATE = "身份证号中的出生日期不正确，请核对后重新输入"
HINT_BAD_CHECK_DIGIT = "身份证号校验位不正确，请核对后重新输入"
HINT_UNDER_AGE = (
    "感谢你对科技志愿服务的热心！根据通知要求，科技志愿者须年满18周岁，欢迎你成年后再来注册。"
)

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_EARLIEST_BIRTH = date(1900, 1, 1)
_FORMAT_18 = re.compile(r"\d{17}[\dX]")
_FORMAT_15 = re.compile(r"\d{15}")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class IdCard:
    """A validated 18-character ID number (upper-case X) and what it encodes."""

    number: str
    birth_date: date
    gender: Literal["男", "女"]

    def __repr__(self) -> str:  # keep the full number out of logs and tracebacks
        return f"IdCard(number={mask_id_number(self.number)!r}, ...)"

    def age_on(self, day: date) -> int:
        """Age in completed years (周岁) on ``day``.

        The age goes up on the birthday. For a 29 February birthday in a common year the
        birthday is 28 February (民法典 第二百零二条: no corresponding day → the month's last day).
        """
        return _age(self.birth_date, day)


def _anniversary(birth: date, year: int) -> date:
    if birth.month == 2 and birth.day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return birth.replace(year=year)


def _age(birth: date, day: date) -> int:
    years = day.year - birth.year
    if day < _anniversary(birth, day.year):
        years -= 1
    return years


def compute_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character ("0"-"9" or "X") for 17 leading digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("expected exactly 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def is_valid_check_digit(number: str) -> bool:
    """True when ``number`` is 17 digits plus the matching check character (x or X)."""
    number = number.upper()
    if not _FORMAT_18.fullmatch(number) or not number.isascii():
        return False
    return compute_check_digit(number[:17]) == number[17]


def _birth_date(number: str, today: date) -> date:
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(HINT_BAD_BIRTH_DATE) from None
    if born < _EARLIEST_BIRTH or born > today:
        raise ValidationError(HINT_BAD_BIRTH_DATE)
    return born


def parse_id_number(text: str, *, today: date | None = None) -> IdCard:
    """Validate an ID number typed by the user.

    Accepts full-width digits, a lower-case x and spaces anywhere. ``today`` (default: the
    local date) is used to reject birth dates in the future. Raises ValidationError with a
    specific hint for the wrong format, an old 15-digit number, an impossible birth date and a
    wrong check character.
    """
    cleaned = _SPACES.sub("", normalize(text)).upper()
    if not cleaned.isascii():
        raise ValidationError(HINT_BAD_FORMAT)
    if _FORMAT_15.fullmatch(cleaned):
        raise ValidationError(HINT_OLD_15_DIGITS)
    if not _FORMAT_18.fullmatch(cleaned):
        raise ValidationError(HINT_BAD_FORMAT)
    born = _birth_date(cleaned, today or date.today())
    if compute_check_digit(cleaned[:17]) != cleaned[17]:
        raise ValidationError(HINT_BAD_CHECK_DIGIT)
    gender: Literal["男", "女"] = "男" if int(cleaned[16]) % 2 == 1 else "女"
    return IdCard(number=cleaned, birth_date=born, gender=gender)


def check_adult(card: IdCard, today: date) -> None:
    """Raise Ineligible when the card holder is younger than 18 on ``today``.

    The hint carries no personal data (not even the birth date), so it is safe to log.
    """
    if card.age_on(today) >= MIN_AGE:
        return
    raise Ineligible(HINT_UNDER_AGE)


def mask_id_number(number: str) -> str:
    """Masked display form, e.g. 6201**********123X (first 4 and last 4 characters kept).

    Anything too short to keep 8 characters visible is masked entirely.
    """
    number = number.strip().upper()
    if len(number) < 12:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]
