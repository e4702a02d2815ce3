"""Logging: one line per event, to stderr. Message content is never logged (see dispatcher), and
neither are the webhook's signatures, nonce or echostr (access logs included)."""

from __future__ import annotations

import logging
import re
import time

# Whoever reads a log must not be able to replay a request with them.
_SECRET_PARAMS = re.compile(r"(?i)\b(signature|msg_signature|nonce|echostr)=[^&\s\"']*")
# Loggers that write request lines with their query strings.
_ACCESS_LOGGERS = ("werkzeug", "granian.access", "gunicorn.access")


def redact(text: str) -> str:
    return _SECRET_PARAMS.sub(r"\1=-", text)


class RedactQueryFilter(logging.Filter):
    """Blanks signature, msg_signature, nonce and echostr values in a record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        # Formatted once: the formatter's own getMessage() then has nothing left to do.
        record.msg, record.args = message, None
        return True


class _Formatter(logging.Formatter):
    """The default format, with the time text computed once per second, not per line."""

    _cached: tuple[int, str] = (-1, "")  # (second, its text): replaced whole, thread-safe

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        cached_second, text = self._cached
        if second != cached_second:
            text = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(second))
            self._cached = (second, text)
        return f"{text},{int(record.msecs):03d}"


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_kjzy", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(_Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactQueryFilter())
        handler._kjzy = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    for name in _ACCESS_LOGGERS:
        access = logging.getLogger(name)
        if not any(isinstance(f, RedactQueryFilter) for f in access.filters):
            access.addFilter(RedactQueryFilter())
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(max(logging.getLevelName(level), logging.INFO))
