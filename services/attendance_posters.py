"""Printable pictures of an activity's 签到 and 签退 QR codes (PNG), for the console and chat.

The QR code encodes the `url` WeChat returned for the temporary scene code; the picture adds the
activity, what the code does, when it works and the 6-digit code for people who cannot scan.
"""

from __future__ import annotations

import hashlib
import io
import textwrap
from collections.abc import Callable

import segno
from PIL import Image, ImageDraw, ImageFont
from redis import Redis
from sqlalchemy.orm import Session

from domain import clock
from domain.hours import check_in_window
from models.activity import Activity
from models.service import CheckinCode
from services.fonts import collection_index, require

__all__ = ["cached_poster_png", "poster_png"]

WIDTH, HEIGHT = 1000, 1250
QR_SIZE = 720
POSTER_CACHE_SECONDS = 86400
LABELS = {"in": "签到", "out": "签退"}
COLOURS = {"in": (26, 127, 55), "out": (178, 80, 0)}


def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(require(path), size, index=collection_index(path))


def _qr_image(content: str) -> Image.Image:
    buffer = io.BytesIO()
    segno.make(content, error="m").save(buffer, kind="png", scale=20, border=2)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB").resize((QR_SIZE, QR_SIZE), Image.Resampling.NEAREST)


def _centered(
    draw: ImageDraw.ImageDraw,
    y: int,
    text: str,
    font: ImageFont.FreeTypeFont,
    fill: tuple[int, int, int],
) -> int:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text(((WIDTH - (right - left)) / 2, y), text, font=font, fill=fill)
    return y + int(bottom - top) + 18


def poster_png(activity: Activity, kind: str, qr_content: str, code: str, font_path: str) -> bytes:
    label = LABELS[kind]
    window = check_in_window(activity.starts_at, activity.ends_at)
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH, 150), fill=COLOURS[kind])
    _centered(draw, 30, f"扫码{label}", _font(font_path, 80), (255, 255, 255))
    y = 175
    for line in textwrap.wrap(activity.title, 18)[:2]:
        y = _centered(draw, y, line, _font(font_path, 44), (34, 34, 34))
    image.paste(_qr_image(qr_content), ((WIDTH - QR_SIZE) // 2, y + 5))
    y += QR_SIZE + 25
    small = _font(font_path, 32)
    y = _centered(draw, y, f"无法扫码？在公众号回复「{label} {code}」", small, (34, 34, 34))
    _centered(
        draw,
        y,
        f"可{label}时间：{clock.show(window.opens, '%m-%d %H:%M')} 至 {clock.show(window.closes, '%m-%d %H:%M')}",
        small,
        (90, 90, 90),
    )
    output = io.BytesIO()
    image.save(output, format="PNG", optimize=True)
    return output.getvalue()


def cached_poster_png(
    redis: Redis,
    key_for: Callable[[str], str],
    activity: Activity,
    kind: str,
    qr_content: str,
    code: str,
    font_path: str,
) -> bytes:
    """The picture from Redis when drawn before (drawing takes about a second), else drawn and
    kept for a day. The key is a digest of everything on the picture, so a changed title, time
    or code draws a new one."""
    parts = (activity.id, activity.title, activity.starts_at, activity.ends_at, kind, qr_content)
    drawn = "|".join(str(part) for part in (*parts, code))
    key = key_for(hashlib.sha256(drawn.encode()).hexdigest())
    cached = redis.get(key)
    if isinstance(cached, bytes):
        return cached
    png = poster_png(activity, kind, qr_content, code, font_path)
    redis.set(key, png, ex=POSTER_CACHE_SECONDS)
    return png


def activity_poster_png(
    session: Session,
    redis: Redis,
    key_for: Callable[[str], str],
    activity: Activity,
    kind: str,
    font_path: str,
) -> bytes | None:
    """The printable 签到 (kind "in") or 签退 picture of an activity, or None while it has no
    codes yet. Shared by the operators' and the team admins' consoles."""
    codes = session.get(CheckinCode, activity.id)
    if codes is None:
        return None
    url = codes.in_url if kind == "in" else codes.out_url
    if url is None:
        return None
    return cached_poster_png(redis, key_for, activity, kind, url, codes.code, font_path)
