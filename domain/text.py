"""Normalisation of free-form user input typed on phones (full-width forms, odd dots, spaces)."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MIDDLE_DOT", "clip", "has_emoji", "normalize"]

MIDDLE_DOT = "\u00b7"  # "·", the separator in transliterated minority names

# Characters that people (or their input methods) use for the name separator dot.
_DOT_VARIANTS = (
    "\u0387",  # GREEK ANO TELEIA (NFC maps it to U+00B7 anyway)
    "\u2022",  # BULLET
    "\u2027",  # HYPHENATION POINT
    "\u2219",  # BULLET OPERATOR
    "\u22c5",  # DOT OPERATOR
    "\u2e31",  # WORD SEPARATOR MIDDLE DOT
    "\u30fb",  # KATAKANA MIDDLE DOT
    "\uff65",  # HALFWIDTH KATAKANA MIDDLE DOT
)

# Invisible characters that sneak in through copy and paste.
_INVISIBLE = ("\u200b", "\u2060", "\ufeff")


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}
    table[0x3000] = " "  # IDEOGRAPHIC SPACE
    for dot in _DOT_VARIANTS:
        table[ord(dot)] = MIDDLE_DOT
    for ch in _INVISIBLE:
        table[ord(ch)] = None
    return table


_TABLE = _build_table()
_WHITESPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Normalise user input.

    Full-width ASCII (digits, letters, punctuation, the ideographic space) becomes half-width,
    name-dot variants become U+00B7, zero-width characters are dropped, runs of whitespace
    (including newlines) collapse to one space and the ends are stripped. Chinese characters and
    Chinese punctuation outside the full-width ASCII block (、。「」) are kept.
    """
    text = unicodedata.normalize("NFC", text).translate(_TABLE)
    return _WHITESPACE.sub(" ", text).strip()


# Code point ranges that are emoji (or only used as emoji parts) in practice.
_EMOJI_RANGES: tuple[tuple[int, int], ...] = (
    (0x1F000, 0x1FAFF),  # mahjong/cards, enclosed supplements, pictographs, emoticons, symbols
    (0x2600, 0x27BF),  # miscellaneous symbols and dingbats (☀ ☎ ✈ ❤ ...)
    (0x231A, 0x231B),  # ⌚ ⌛
    (0x23E9, 0x23F3),  # ⏩ ... ⏳
    (0x23F8, 0x23FA),
    (0x2B05, 0x2B07),
    (0x2B1B, 0x2B1C),
    (0x2B50, 0x2B50),  # ⭐
    (0x2B55, 0x2B55),  # ⭕
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3297),  # ㊗
    (0x3299, 0x3299),  # ㊙
    (0x20E3, 0x20E3),  # combining enclosing keycap
    (0xFE0F, 0xFE0F),  # emoji presentation selector
    (0xE0020, 0xE007F),  # tag characters (flag sequences)
)


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _EMOJI_RANGES)


def has_emoji(text: str) -> bool:
    """True when ``text`` contains an emoji (pictographs, dingbats, flags, keycaps)."""
    return any(_is_emoji(ch) for ch in text)


def clip(text: str, n: int) -> str:
    """Shorten ``text`` to at most ``n`` characters for display, ending with "…" when cut."""
    if n <= 0:
        return ""
    if len(text) <= n:
        return text
    return text[: n - 1] + "…"
