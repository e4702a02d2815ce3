"""Contact details and free text: mobile numbers, real names, short answers."""

from __future__ import annotations

import re
import unicodedata

from domain.errors import ValidationError
from domain.text import MIDDLE_DOT, has_emoji, normalize

__all__ = [
    "NAME_MAX_LEN",
    "NAME_MIN_LEN",
    "is_chinese_char",
    "mask_mobile",
    "parse_free_text",
    "parse_mobile",
    "parse_person_name",
]

NAME_MIN_LEN = 2
NAME_MAX_LEN = 20

HINT_MOBILE = "请输入11位手机号码，例如 13812345678"
HINT_MOBILE_LANDLINE = "请填写11位手机号码，暂不支持座机号码"
HINT_NAME_EMPTY = "请输入你的真实姓名（与身份证一致）"
HINT_NAME_TOO_SHORT = f"姓名至少{NAME_MIN_LEN}个字，请输入与身份证一致的姓名"
HINT_NAME_TOO_LONG = f"姓名最多{NAME_MAX_LEN}个字，请检查后重新输入"
HINT_NAME_DIGITS = "姓名中不能有数字，请输入与身份证一致的姓名"
HINT_NAME_CHARS = "姓名只能填写汉字，少数民族姓名可用「·」分隔，例如 买买提·艾力"
HINT_NAME_DOTS = "「·」只能用在姓名中间，且不能连着用，例如 阿卜杜拉·买买提"

_MOBILE_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015()]+")
_MOBILE = re.compile(r"(?:\+?86|0086)?(1[3-9]\d{9})")


def parse_mobile(text: str) -> str:
    """A mainland mobile number as 11 digits (1[3-9] + 9 digits).

    Spaces, dashes and brackets are ignored; a +86, 86 or 0086 prefix is removed.
    """
    compact = _MOBILE_SEPARATORS.sub("", normalize(text))
    match = _MOBILE.fullmatch(compact) if compact.isascii() else None
    if match:
        return match.group(1)
    if compact.startswith("0") and compact.isascii() and compact.isdigit():
        raise ValidationError(HINT_MOBILE_LANDLINE)
    raise ValidationError(HINT_MOBILE)


def mask_mobile(number: str) -> str:
    """Masked display form: 138****5678. Short or odd input is masked entirely."""
    number = number.strip()
    if len(number) < 8:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def is_chinese_char(ch: str) -> bool:
    """A CJK unified ideograph (basic block, extension A, or the supplementary-plane extensions)."""
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF  # CJK Unified Ideographs
        or 0x3400 <= cp <= 0x4DBF  # Extension A
        or 0x20000 <= cp <= 0x2A6DF  # Extension B (rare characters in names)
        or 0x2A700 <= cp <= 0x2EE5F  # Extensions C-F, I
        or 0x30000 <= cp <= 0x323AF  # Extensions G-H
    )


def parse_person_name(text: str) -> str:
    """A real name: 2-20 Chinese characters, with "·" between the parts of minority names.

    Spaces are removed ("张 三" → "张三"); dot variants and a "." between parts become "·".
    """
    name = re.sub(r"\s+", "", normalize(text))
    name = name.replace(".", MIDDLE_DOT)
    if not name:
        raise ValidationError(HINT_NAME_EMPTY)
    if any(ch.isdigit() for ch in name):
        raise ValidationError(HINT_NAME_DIGITS)
    if any(ch != MIDDLE_DOT and not is_chinese_char(ch) for ch in name):
        raise ValidationError(HINT_NAME_CHARS)
    if name.startswith(MIDDLE_DOT) or name.endswith(MIDDLE_DOT) or MIDDLE_DOT * 2 in name:
        raise ValidationError(HINT_NAME_DOTS)
    if len(name) < NAME_MIN_LEN:
        raise ValidationError(HINT_NAME_TOO_SHORT)
    if len(name) > NAME_MAX_LEN:
        raise ValidationError(HINT_NAME_TOO_LONG)
    return name


_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})


def parse_free_text(text: str, max_len: int, field_label: str) -> str:
    """A short free-text answer (unit, job title, ...): normalised, non-empty, ≤ ``max_len``.

    Emoji and control or invisible formatting characters are rejected with a hint naming
    ``field_label`` (e.g. "工作单位").
    """
    value = normalize(text)
    if not value:
        raise ValidationError(f"请填写{field_label}")
    if has_emoji(value):
        raise ValidationError(f"{field_label}中请不要使用表情符号，请重新输入")
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in value):
        raise ValidationError(f"{field_label}中有无法识别的字符，请重新输入")
    if len(value) > max_len:
        raise ValidationError(
            f"{field_label}最多{max_len}个字，你输入了{len(value)}个字，请精简后重新输入"
        )
    return value
