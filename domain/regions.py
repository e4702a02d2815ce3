"""Gansu administrative divisions (GB/T 2260): 14 prefectures (市州) and their counties (县区).

Data: data/gansu-divisions.tsv in the project root, loaded once.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, cast

from domain.text import normalize

__all__ = [
    "DATA_FILE",
    "OUTSIDE_GANSU",
    "OUTSIDE_GANSU_LABEL",
    "PROVINCE_CODE",
    "Division",
    "contains",
    "counties",
    "find_county",
    "find_prefecture",
    "get",
    "label",
    "prefectures",
    "short_names",
]

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "gansu-divisions.tsv"

PROVINCE_CODE = "620000"
OUTSIDE_GANSU = "OUT"  # people who live outside Gansu
OUTSIDE_GANSU_LABEL = "省外"

Level = Literal["province", "prefecture", "county"]
_LEVELS = ("province", "prefecture", "county")

# Ethnic groups named in Gansu's autonomous prefectures and counties.
_ETHNIC = ("哈萨克族", "蒙古族", "裕固族", "保安族", "东乡族", "撒拉族", "回族", "藏族")
_PROVINCE_PREFIX = re.compile(r"^甘肃省?")


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    level: Level
    parent_code: str | None


@dataclass(frozen=True)
class _Data:
    by_code: dict[str, Division]
    children: dict[str, tuple[Division, ...]]


@cache
def _data() -> _Data:
    by_code: dict[str, Division] = {}
    children: dict[str, list[Division]] = {}
    with DATA_FILE.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            level = row["level"].strip()
            if level not in _LEVELS:
                raise ValueError(f"{DATA_FILE.name}: unknown level {level!r}")
            division = Division(
                code=row["code"].strip(),
                name=row["name"].strip(),
                level=cast(Level, level),
                parent_code=(row["parent_code"] or "").strip() or None,
            )
            by_code[division.code] = division
            if division.parent_code:
                children.setdefault(division.parent_code, []).append(division)
    return _Data(
        by_code=by_code,
        children={k: tuple(sorted(v, key=lambda d: d.code)) for k, v in children.items()},
    )


def get(code: str) -> Division | None:
    """The division with this code (province, prefecture or county), or None."""
    return _data().by_code.get(code.strip())


def prefectures() -> list[Division]:
    """The 14 prefecture-level divisions (市州) in code order."""
    return [d for d in _data().children.get(PROVINCE_CODE, ()) if d.level == "prefecture"]


def counties(prefecture_code: str) -> list[Division]:
    """The county-level divisions of a prefecture in code order (empty for 嘉峪关市 620200)."""
    return [d for d in _data().children.get(prefecture_code.strip(), ()) if d.level == "county"]


def contains(prefecture_code: str, county_code: str) -> bool:
    """True when the county belongs to the prefecture."""
    county = get(county_code)
    return (
        county is not None
        and county.level == "county"
        and county.parent_code == prefecture_code.strip()
    )


def short_names(division: Division) -> tuple[str, ...]:
    """Names people use besides the full name: 兰州市 → 兰州; 临夏回族自治州 → 临夏, 临夏州;
    东乡族自治县 → 东乡; 城关区 → 城关."""
    name = division.name
    names: list[str] = []
    if name.endswith(("自治州", "自治县")):
        base = name[:-3]
        stripped = True
        while stripped:
            stripped = False
            for ethnic in _ETHNIC:
                if base.endswith(ethnic) and len(base) > len(ethnic):
                    base = base[: -len(ethnic)]
                    stripped = True
        if base in _ETHNIC:  # 东乡族自治县: the county is named after the people
            base = base[:-1]
        names.append(base)
        names.append(base + name[-1])  # 临夏州, 东乡县
    elif len(name) > 1 and name[-1] in "市区县州":
        names.append(name[:-1])
    return tuple(n for n in dict.fromkeys(names) if n and n != name)


def _clean(text: str) -> str:
    return re.sub(r"\s+", "", normalize(text))


def _match(candidates: list[Division], text: str) -> Division | None:
    for division in candidates:
        if division.name == text:
            return division
    found = [d for d in candidates if text in short_names(d)]
    return found[0] if len(found) == 1 else None


def find_prefecture(text: str) -> Division | None:
    """The prefecture named by ``text``: full name or short name (兰州, 临夏, 临夏州).

    A leading 甘肃/甘肃省 is ignored. None when nothing (or more than one) matches.
    """
    cleaned = _PROVINCE_PREFIX.sub("", _clean(text))
    return _match(prefectures(), cleaned) if cleaned else None


def find_county(prefecture_code: str, text: str) -> Division | None:
    """The county of this prefecture named by ``text``: full or short name (城关区, 城关).

    A leading province or prefecture name (甘肃省兰州市城关区) is ignored. An ambiguous short
    name returns None: 临夏 could be 临夏市 or 临夏县.
    """
    cleaned = _PROVINCE_PREFIX.sub("", _clean(text))
    prefecture = get(prefecture_code)
    candidates = counties(prefecture_code)
    if not cleaned or prefecture is None or not candidates:
        return None
    found = _match(candidates, cleaned)
    if found is not None:
        return found
    for prefix in (prefecture.name, *short_names(prefecture)):
        if cleaned.startswith(prefix) and len(cleaned) > len(prefix):
            found = _match(candidates, cleaned[len(prefix) :])
            if found is not None:
                return found
    return None


def label(code: str) -> str:
    """Full display name: 甘肃省兰州市城关区, 甘肃省嘉峪关市, or 省外 for OUTSIDE_GANSU.

    Raises KeyError for an unknown code.
    """
    if code == OUTSIDE_GANSU:
        return OUTSIDE_GANSU_LABEL
    division = get(code)
    if division is None:
        raise KeyError(code)
    parts = [division.name]
    while division.parent_code:
        parent = get(division.parent_code)
        if parent is None:
            break
        parts.append(parent.name)
        division = parent
    return "".join(reversed(parts))
