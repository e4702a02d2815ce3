"""Team kinds and the notice's naming rules (甘肃省科协《关于开展科技志愿服务…的通知》).

The user types only the variable part of a name; the functions here compose the full name,
check the part, and give the key that decides whether two names are "the same" (full-width
and half-width forms, bracket styles, spaces and letter case do not count). Pure functions:
no database, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from domain import regions
from domain.contact import is_chinese_char
from domain.errors import ValidationError
from domain.text import has_emoji, normalize

__all__ = [
    "BRANCH",
    "COMMITTEE",
    "COUNTY",
    "KINDS",
    "LEVELS",
    "LEVEL_BRANCH",
    "LEVEL_CORPS",
    "LEVEL_SQUAD",
    "LEVEL_TEAM",
    "LEVEL_WORDS",
    "MAX_NAME_LEN",
    "OTHER",
    "PREFECTURE",
    "ROOT",
    "ROOT_NAME",
    "SOCIETY",
    "SQUAD",
    "SUFFIX",
    "UNIT",
    "Kind",
    "branch_name",
    "clean_name",
    "committee_name",
    "compose_name",
    "free_name",
    "is_region_name",
    "kind",
    "kind_label",
    "name_key",
    "region_team_name",
    "society_name",
    "squad_name",
    "unit_name",
]

LEVEL_CORPS = "总队"
LEVEL_TEAM = "队"
LEVEL_BRANCH = "支队"
LEVEL_SQUAD = "分队"
LEVELS: tuple[str, ...] = (LEVEL_CORPS, LEVEL_TEAM, LEVEL_BRANCH, LEVEL_SQUAD)

SUFFIX = "科技志愿服务队"
ROOT_NAME = "甘肃省科技志愿服务总队"
MAX_NAME_LEN = 100

ROOT = "root"
SOCIETY = "society"
COMMITTEE = "committee"
PREFECTURE = "prefecture"
COUNTY = "county"
UNIT = "unit"
BRANCH = "branch"
SQUAD = "squad"
OTHER = "other"


@dataclass(frozen=True)
class Kind:
    key: str
    label: str  # who registers this kind of team
    level: str
    pattern: str  # the notice's naming rule, ** marking what the user types
    example: str

    @property
    def option(self) -> str:
        """The line in the numbered menu: who, and how the team is named."""
        if self.key == OTHER:
            return f"{self.label}：{self.pattern}"
        return f"{self.label}：「{self.pattern}」"

    @property
    def typed_part(self) -> bool:
        """True when the user types part of the name (the others take it from the region)."""
        return self.key not in {PREFECTURE, COUNTY}

    @property
    def needs_parent(self) -> bool:
        return self.key in {COMMITTEE, BRANCH, SQUAD}


KINDS: tuple[Kind, ...] = (
    Kind(
        SOCIETY,
        "省级学会、协会、研究会",
        LEVEL_TEAM,
        "**学会（协会、研究会）科技志愿服务队",
        "甘肃省农学会科技志愿服务队",
    ),
    Kind(
        COMMITTEE,
        "学会的专业委员会",
        LEVEL_BRANCH,
        "**学会科技志愿服务队**专委会支队",
        "甘肃省农学会科技志愿服务队植物保护专委会支队",
    ),
    Kind(
        PREFECTURE, "市（州）科协", LEVEL_TEAM, "**市（州）科技志愿服务队", "天水市科技志愿服务队"
    ),
    Kind(COUNTY, "县（区）科协", LEVEL_TEAM, "**县（区）科技志愿服务队", "秦安县科技志愿服务队"),
    Kind(
        UNIT,
        "省科协直属单位、高校科协、园区科协、企业科协、社会组织",
        LEVEL_TEAM,
        "**单位科技志愿服务队",
        "兰州大学科技志愿服务队",
    ),
    Kind(
        BRANCH,
        "已注册队伍的下级支队",
        LEVEL_BRANCH,
        "<队名>**支队",
        "兰州大学科技志愿服务队化学化工支队",
    ),
    Kind(SQUAD, "已注册支队的下级分队", LEVEL_SQUAD, "<支队名>**分队", "…专委会支队天水分队"),
    Kind(OTHER, "其他/特殊命名", LEVEL_TEAM, "自拟名称，在省科协指导下确定", "（自拟名称）"),
)
_BY_KEY = {k.key: k for k in KINDS}
_ROOT_KIND = Kind(ROOT, "省科协", LEVEL_CORPS, ROOT_NAME, ROOT_NAME)


def kind(key: str) -> Kind:
    """The kind with this key; KeyError for an unknown key."""
    if key == ROOT:
        return _ROOT_KIND
    return _BY_KEY[key]


def kind_label(key: str) -> str:
    found = _BY_KEY.get(key) or (_ROOT_KIND if key == ROOT else None)
    return found.label if found else key


# -- cleaning and comparing ---------------------------------------------------------------

# Every bracket style people type, folded to one pair for comparison.
_OPEN = "(（[［【〔〖「『"
_CLOSE = ")）]］】〕〗」』"
_FOLD = str.maketrans({**dict.fromkeys(_OPEN, "("), **dict.fromkeys(_CLOSE, ")")})
_DISPLAY_BRACKETS = str.maketrans(
    {**dict.fromkeys("([【〔〖", "（"), **dict.fromkeys(")]】〕〗", "）")}
)
_ALLOWED_PUNCTUATION = set("（）·-—")
_SPACE_NEAR_WIDE = re.compile(r"\s+(?=[^\x00-\x7f])|(?<=[^\x00-\x7f])\s+")


def name_key(name: str) -> str:
    """What decides whether two names are the same: 「兰州（新区）队」 = 「兰州(新区) 队」."""
    folded = normalize(name).translate(_FOLD)
    return re.sub(r"\s+", "", folded).casefold()


def clean_name(text: str, field: str = "名称") -> str:
    """A name part as it will be displayed: half-width letters and digits, Chinese brackets,
    no spaces next to Chinese characters. ValidationError for emoji or odd characters."""
    value = normalize(text).translate(_DISPLAY_BRACKETS)
    value = _SPACE_NEAR_WIDE.sub("", value).strip()
    value = value.strip("。.，,、;；:：!！?？\"'“”‘’「」")
    if not value:
        raise ValidationError(f"请输入{field}。")
    if has_emoji(value):
        raise ValidationError(f"{field}中请不要使用表情符号，请重新输入。")
    for ch in value:
        if is_chinese_char(ch) or (ch.isascii() and (ch.isalnum() or ch == " ")):
            continue
        if ch in _ALLOWED_PUNCTUATION:
            continue
        if unicodedata.category(ch).startswith(("C", "Z")):
            raise ValidationError(f"{field}中有无法识别的字符，请重新输入。")
        raise ValidationError(
            f"{field}中不能使用「{ch}」，只能使用汉字、字母、数字和括号，请重新输入。"
        )
    if value.count("（") != value.count("）"):
        raise ValidationError(f"{field}中的括号不成对，请检查后重新输入。")
    return value


def _strip_suffix(value: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if value.endswith(suffix):
            return value[: -len(suffix)]
    return value


def _strip_prefix(value: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        if prefix and value.startswith(prefix) and len(value) > len(prefix):
            return value[len(prefix) :]
    return value


def _check_length(part: str, field: str, low: int, high: int) -> None:
    if len(part) < low:
        raise ValidationError(f"{field}至少{low}个字，请输入完整名称。")
    if len(part) > high:
        raise ValidationError(f"{field}最多{high}个字，您输入了{len(part)}个字，请精简后重新输入。")


def _check_full(name: str) -> str:
    if len(name) > MAX_NAME_LEN:
        raise ValidationError(f"队伍全称不能超过{MAX_NAME_LEN}个字，请精简后重新输入。")
    return name


# -- words a typed part may not use -------------------------------------------------------

# The level words belong to the composed name, never to the part a user types (rule 3 of the
# notice's naming: 「兰州大学科技志愿服务总队」 is not a unit's name).
LEVEL_WORDS = ("科技志愿服务", "总队", "支队", "分队", "队")


def _refuse_level_words(part: str, field: str) -> None:
    for word in LEVEL_WORDS:
        if word in part:
            raise ValidationError(
                f"{field}中不能含有「{word}」：「科技志愿服务队」「支队」「分队」等由系统按规则加上，"
                "只需输入单位本身的名称。"
            )


def _region_names() -> frozenset[str]:
    names: set[str] = {"甘肃", "甘肃省"}
    for prefecture in regions.prefectures():
        for division in (prefecture, *regions.counties(prefecture.code)):
            names.add(division.name)
            names.update(n for n in regions.short_names(division) if len(n) >= 2)
    return frozenset(names)


_REGIONS = _region_names()


def is_region_name(part: str) -> bool:
    """「兰州市」「兰州」「城关区」「临夏州」「甘肃省」…: the 14 市州 and 86 县区 (and the
    province), with or without 市/州/县/区, are reserved for the region teams."""
    return part in _REGIONS


def _refuse_region_name(part: str, field: str) -> None:
    if is_region_name(part):
        raise ValidationError(
            f"「{part}」是地区名称，地区的科技志愿服务队由当地科协注册"
            "（类型选「市（州）科协」或「县（区）科协」）。请输入单位本身的名称，如「兰州大学」。"
        )


# -- the rules, one per kind --------------------------------------------------------------

_SOCIETY_ENDINGS = ("研究会", "学会", "协会")
_PROVINCE_WORDS = ("甘肃省", "甘肃")


def society_name(text: str) -> str:
    """省级学会、协会、研究会: 「X学会科技志愿服务队」 from 「X学会」 (the suffix may be typed too)."""
    part = _strip_suffix(clean_name(text, "学会名称"), (SUFFIX,))
    if not part.endswith(_SOCIETY_ENDINGS):
        raise ValidationError(
            "学会、协会、研究会的队名为「**学会（协会、研究会）科技志愿服务队」，"
            "请输入以「学会」「协会」或「研究会」结尾的全称，如「甘肃省农学会」。"
        )
    _refuse_level_words(part, "学会名称")
    _check_length(part, "学会名称", 4, 50)
    if not part.startswith(_PROVINCE_WORDS):
        raise ValidationError(
            f"「{part}」不是省级学会：此类型只供省级学会、协会、研究会注册，全称以「甘肃省」开头，"
            "如「甘肃省农学会」。市（州）、县（区）的学会可在当地科技志愿服务队下注册支队。"
        )
    return _check_full(part + SUFFIX)


_COMMITTEE_ENDINGS = (
    "专业委员会支队",
    "专委会支队",
    "委员会支队",
    "支队",
    "专业委员会",
    "专委会",
    "委员会",
)


def committee_name(parent_name: str, text: str) -> str:
    """专委会: 「X学会科技志愿服务队Y专委会支队」 under the society's team `parent_name`."""
    part = clean_name(text, "专委会名称")
    society = _strip_suffix(parent_name, (SUFFIX,))
    part = _strip_prefix(part, (parent_name, society))
    part = _strip_suffix(part, _COMMITTEE_ENDINGS)
    _refuse_level_words(part, "专委会名称")
    _check_length(part, "专委会名称", 2, 30)
    return _check_full(f"{parent_name}{part}专委会支队")


def region_team_name(division_name: str) -> str:
    """市（州）/县（区）科协: 「天水市科技志愿服务队」, 「秦安县科技志愿服务队」."""
    return division_name + SUFFIX


_UNIT_ENDINGS = (SUFFIX, "科学技术协会", "科协")


def unit_name(text: str) -> str:
    """直属单位、高校、园区、企业、社会组织: 「X科技志愿服务队」 with X the unit's name."""
    part = clean_name(text, "单位名称")
    part = _strip_suffix(_strip_suffix(part, (SUFFIX,)), _UNIT_ENDINGS[1:])
    _refuse_level_words(part, "单位名称")
    _refuse_region_name(part, "单位名称")
    _check_length(part, "单位名称", 2, 50)
    return _check_full(part + SUFFIX)


def branch_name(parent_name: str, text: str) -> str:
    """下级支队 of any registered 队: 「<队名>Y支队」."""
    part = clean_name(text, "支队名称")
    part = _strip_suffix(_strip_prefix(part, (parent_name,)), ("支队",))
    _refuse_level_words(part, "支队名称")
    _check_length(part, "支队名称", 2, 20)
    return _check_full(f"{parent_name}{part}支队")


def squad_name(parent_name: str, text: str) -> str:
    """下级分队: 「…支队Y分队」 under the 支队 `parent_name`."""
    part = clean_name(text, "分队名称")
    part = _strip_suffix(_strip_prefix(part, (parent_name,)), ("分队",))
    _refuse_level_words(part, "分队名称")
    _check_length(part, "分队名称", 2, 20)
    return _check_full(f"{parent_name}{part}分队")


def free_name(text: str) -> str:
    """其他/特殊命名: the name as typed, checked for length and characters only."""
    name = clean_name(text, "队伍名称")
    _check_length(name, "队伍名称", 4, 60)
    region = _strip_suffix(name, (SUFFIX,))
    if name.endswith(SUFFIX) and is_region_name(region):
        _refuse_region_name(region, "队伍名称")
    if name_key(name) == name_key(ROOT_NAME):
        raise ValidationError(f"「{ROOT_NAME}」是省科协的总队名称，不能注册。")
    return name


def compose_name(kind: str, text: str, parent_name: str = "") -> str:
    """The full name for a kind from what the user typed (ValidationError with a hint)."""
    if kind == SOCIETY:
        return society_name(text)
    if kind == COMMITTEE:
        return committee_name(parent_name, text)
    if kind == UNIT:
        return unit_name(text)
    if kind == BRANCH:
        return branch_name(parent_name, text)
    if kind == SQUAD:
        return squad_name(parent_name, text)
    if kind == OTHER:
        return free_name(text)
    raise ValidationError("市（州）、县（区）科技志愿服务队的名称由所在地区决定。")
