"""The Chinese font for PDFs and pictures: Noto Sans CJK SC from Debian's fonts-noto-cjk.

Nothing is downloaded: a missing font file is a configuration error (`FontMissing`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTCollection

__all__ = ["SC_FACE", "FontMissing", "collection_index", "require"]

SC_FACE = "Noto Sans CJK SC"


class FontMissing(RuntimeError):
    """The configured font is not installed (Debian package fonts-noto-cjk)."""


def require(path: str) -> str:
    if not Path(path).is_file():
        raise FontMissing(f"font not found: {path} (install the Debian package fonts-noto-cjk)")
    return path


@lru_cache(maxsize=4)
def collection_index(path: str) -> int:
    """The index of the Simplified Chinese face in a font collection (0 for a single font)."""
    if not path.lower().endswith((".ttc", ".otc")):
        return 0
    with TTCollection(require(path), lazy=True) as collection:
        for index, font in enumerate(collection.fonts):
            if font["name"].getDebugName(1) == SC_FACE:
                return index
    return 0
