"""Star levels (星级志愿者) by cumulative confirmed service hours."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["LEVELS", "Standing", "standing"]

# (label, hours needed), lowest first.
LEVELS: tuple[tuple[str, int], ...] = (
    ("一星", 100),
    ("二星", 300),
    ("三星", 600),
    ("四星", 1000),
    ("五星", 1500),
)


@dataclass(frozen=True)
class Standing:
    hours: Decimal
    level: str | None  # None below 一星
    next_level: str | None  # None at 五星
    hours_to_next: Decimal | None

    @property
    def level_text(self) -> str:
        return f"{self.level}志愿者" if self.level else "暂未评星"


def standing(hours: Decimal) -> Standing:
    """The star level reached with `hours` and how many hours the next one still needs."""
    level: str | None = None
    for label, needed in LEVELS:
        if hours >= needed:
            level = label
            continue
        return Standing(hours, level, label, Decimal(needed) - hours)
    return Standing(hours, level, None, None)
