"""Fixed option lists and the parser for answers to numbered menus."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from domain.errors import Ineligible, ValidationError
from domain.numerals import small_number
from domain.text import normalize

__all__ = [
    "BELOW_HIGH_SCHOOL",
    "EDUCATION_ALIASES",
    "EDUCATION_LEVELS",
    "EDUCATION_OPTIONS",
    "HINT_UNDER_EDUCATION",
    "OCCUPATIONS",
    "OCCUPATION_ALIASES",
    "SERVICE_TIMES",
    "SERVICE_TIME_ALIASES",
    "SKILLS",
    "SKILL_ALIASES",
    "format_options",
    "is_below_high_school",
    "parse_choice",
    "parse_education",
    "parse_multi_choice",
]

EDUCATION_LEVELS: tuple[str, ...] = ("高中/中专/中职", "大专", "本科", "硕士研究生", "博士研究生")
BELOW_HIGH_SCHOOL = "初中及以下"
# The menu shown to the user: choosing the last entry ends the registration (see parse_education).
EDUCATION_OPTIONS: tuple[str, ...] = (*EDUCATION_LEVELS, BELOW_HIGH_SCHOOL)

OCCUPATIONS: tuple[str, ...] = (
    "科研人员",
    "企业科技人员",
    "教师",
    "医务人员",
    "科普场馆辅导员",
    "青少年科技辅导员",
    "高校学生",
    "农技人员",
    "其他",
)
SKILLS: tuple[str, ...] = (
    "科学普及",
    "农业技术",
    "医疗卫生",
    "信息技术",
    "生态环保",
    "应急安全",
    "工程技术",
    "教育培训",
    "文化传播",
    "其他",
)
SERVICE_TIMES: tuple[str, ...] = ("工作日白天", "工作日晚上", "周末", "节假日", "不定期")

# Everyday words for an option, checked before the generic matching.
EDUCATION_ALIASES: Mapping[str, str] = {
    "高中": "高中/中专/中职",
    "中专": "高中/中专/中职",
    "中职": "高中/中专/中职",
    "职高": "高中/中专/中职",
    "技校": "高中/中专/中职",
    "专科": "大专",
    "高职": "大专",
    "学士": "本科",
    "硕士": "硕士研究生",
    "博士": "博士研究生",
    "初中": BELOW_HIGH_SCHOOL,
    "初中毕业": BELOW_HIGH_SCHOOL,
    "小学": BELOW_HIGH_SCHOOL,
    "小学毕业": BELOW_HIGH_SCHOOL,
    "没上过学": BELOW_HIGH_SCHOOL,
}
OCCUPATION_ALIASES: Mapping[str, str] = {
    "科研": "科研人员",
    "老师": "教师",
    "医生": "医务人员",
    "护士": "医务人员",
    "学生": "高校学生",
    "大学生": "高校学生",
    "研究生": "高校学生",
}
SKILL_ALIASES: Mapping[str, str] = {
    "科普": "科学普及",
    "农技": "农业技术",
    "医疗": "医疗卫生",
    "IT": "信息技术",
    "计算机": "信息技术",
    "环保": "生态环保",
    "应急": "应急安全",
    "安全": "应急安全",
    "工程": "工程技术",
    "教育": "教育培训",
    "培训": "教育培训",
    "文化": "文化传播",
}

SERVICE_TIME_ALIASES: Mapping[str, str] = {
    "白天": "工作日白天",
    "晚上": "工作日晚上",
    "双休日": "周末",
    "假期": "节假日",
    "随时": "不定期",
}

# Aliases used when the caller passes one of the lists above without its own aliases.
_DEFAULT_ALIASES: dict[tuple[str, ...], Mapping[str, str]] = {
    EDUCATION_LEVELS: EDUCATION_ALIASES,
    EDUCATION_OPTIONS: EDUCATION_ALIASES,
    OCCUPATIONS: OCCUPATION_ALIASES,
    SKILLS: SKILL_ALIASES,
    SERVICE_TIMES: SERVICE_TIME_ALIASES,
}

HINT_UNDER_EDUCATION = (
    "感谢你对科技志愿服务的热心！根据通知要求，科技志愿者须具有高中及以上文化程度，"
    "暂时无法完成注册。"
)

_CIRCLED = str.maketrans({chr(0x2460 + i): str(i + 1) for i in range(20)})  # ① … ⑳
_EDGE_PUNCTUATION = "。.!?~、,;:\"'“”‘’「」『』[]【】()"
_SEPARATORS = r"\s,、;"
_CONJUNCTIONS = "和与及"  # also separate words when no option contains them
# 「2」, 「第2项」, and as said aloud: 「三」, 「第三个」, 「十二」.
_NUMBER = re.compile(r"第?([0-9]+|[一二两三四五六七八九十]{1,3})(?:项|个|号|条)?")


def _numbered(token: str) -> tuple[str, bool] | None:
    """The option number a token names, as digits, and whether it was in Chinese numerals."""
    match = _NUMBER.fullmatch(token)
    if match is None:
        return None
    raw = match.group(1)
    if raw[0] in "0123456789":
        return raw, False
    value = small_number(raw)
    return (str(value), True) if value is not None else None


def format_options(options: Sequence[str]) -> str:
    """The numbered menu text: "1. 科研人员\\n2. 企业科技人员\\n…"."""
    return "\n".join(f"{i}. {option}" for i, option in enumerate(options, start=1))


def _clean(text: str) -> str:
    return normalize(text).translate(_CIRCLED).strip(_EDGE_PUNCTUATION + " ")


def _how_to_answer(options: Sequence[str]) -> str:
    return (
        f"请回复选项前的数字（1-{len(options)}），或直接回复选项名称：\n{format_options(options)}"
    )


def _fold(text: str) -> str:
    return re.sub(r"[\s/]+", "", text).casefold()


def _aliases_for(options: Sequence[str], aliases: Mapping[str, str] | None) -> Mapping[str, str]:
    if aliases is None:
        aliases = _DEFAULT_ALIASES.get(tuple(options), {})
    return {_fold(alias): option for alias, option in aliases.items() if option in options}


def _number(digits: str, options: Sequence[str]) -> str:
    index = int(digits)
    if not 1 <= index <= len(options):
        raise ValidationError(
            f"没有第{digits}项，请回复1到{len(options)}之间的数字，多个选项请用空格或顿号隔开"
        )
    return options[index - 1]


def _match_words(
    word: str, options: Sequence[str], aliases: Mapping[str, str], *, several: bool
) -> list[str]:
    """The option(s) named by ``word`` (cleaned, not a number), or ValidationError.

    Tried from strict to loose: exact words, aliases, unique prefix, the word inside one option,
    options inside the word (with ``several``, every option found there counts).
    """
    key = _fold(word)
    for option in options:
        if _fold(option) == key:
            return [option]
    if key in aliases:
        return [aliases[key]]
    tests: tuple[Callable[[str], bool], ...] = (
        lambda opt: opt.startswith(key),
        lambda opt: len(key) >= 2 and key in opt,
        lambda opt: len(opt) >= 2 and opt in key,
    )
    for n, test in enumerate(tests):
        found = [option for option in options if test(_fold(option))]
        if len(found) == 1 or (found and several and n == len(tests) - 1):
            return found
        if found:
            listed = "、".join(found)
            raise ValidationError(f"「{word}」对应多个选项（{listed}），请回复选项前的数字")
    raise ValidationError(f"没有找到「{word}」这个选项。{_how_to_answer(options)}")


def parse_choice(
    text: str, options: Sequence[str], *, aliases: Mapping[str, str] | None = None
) -> str:
    """One option, answered by its 1-based number (「2」, 「②」, 「第2项」, 「第三个」) or by its words.

    Words match the option exactly (spaces, "/" and letter case ignored), then an alias, then an
    unambiguous prefix, then containment either way. ``aliases`` defaults to the built-in ones
    for the lists in this module. Otherwise ValidationError with a hint on how to answer.
    """
    if not options:
        raise ValueError("options must not be empty")
    value = _clean(text)
    if not value:
        raise ValidationError(_how_to_answer(options))
    number = _numbered(value)
    if number:
        return _number(number[0], options)
    return _match_words(value, options, _aliases_for(options, aliases), several=False)[0]


def parse_multi_choice(
    text: str,
    options: Sequence[str],
    min_count: int = 1,
    *,
    max_count: int | None = None,
    aliases: Mapping[str, str] | None = None,
) -> list[str]:
    """Several options: 「1 3 5」, 「1,3,5」, 「1、3、5」, 「1，3」, 「135」 (when there are at most
    9 options), 「三和五」, or option words with the same separators. Duplicates are dropped; the result
    follows the order of ``options``. ``aliases`` as in parse_choice.
    """
    if not options:
        raise ValueError("options must not be empty")
    conjunctions = "".join(c for c in _CONJUNCTIONS if not any(c in o for o in options))
    separators = re.compile(f"[{_SEPARATORS}{conjunctions}]+")
    alias_map = _aliases_for(options, aliases)
    chosen: set[str] = set()
    for raw in separators.split(_clean(text)):
        token = raw.strip(_EDGE_PUNCTUATION)
        if not token:
            continue
        number = _numbered(token)
        if number:
            digits, said = number
            if not said and len(digits) > 1 and len(options) <= 9 and "0" not in digits:
                chosen.update(_number(digit, options) for digit in digits)
            else:
                chosen.add(_number(digits, options))
        else:
            chosen.update(_match_words(token, options, alias_map, several=True))
    result = [option for option in options if option in chosen]
    if not result and min_count > 0:
        raise ValidationError(
            f"请回复选项前的数字，多个选项请用空格或顿号隔开，例如「1 3」：\n"
            f"{format_options(options)}"
        )
    if len(result) < min_count:
        raise ValidationError(f"请至少选择{min_count}项，多个选项请用空格或顿号隔开")
    if max_count is not None and len(result) > max_count:
        raise ValidationError(f"最多可以选择{max_count}项，请重新选择")
    return result


def is_below_high_school(text: str) -> bool:
    """「初中」「小学」「初中及以下」…: an answer that names an education below high school
    (the registration leaves that level out of its menu and explains why instead)."""
    key = _fold(_clean(text))
    below = {_fold(a) for a, level in EDUCATION_ALIASES.items() if level == BELOW_HIGH_SCHOOL}
    return key == _fold(BELOW_HIGH_SCHOOL) or key in below


def parse_education(text: str) -> str:
    """An education level from EDUCATION_OPTIONS (numbers 1-6 or words).

    Raises Ineligible for 初中及以下: the notice requires high school or above.
    """
    level = parse_choice(text, EDUCATION_OPTIONS)
    if level == BELOW_HIGH_SCHOOL:
        raise Ineligible(HINT_UNDER_EDUCATION)
    return level
