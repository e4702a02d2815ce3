"""Logging: one line per event, to stderr. Message content is never logged (see dispatcher), and
neither are the webhook's signatures, nonce or echostr (access logs included)."""

from __future__ import annotations

import logging
import re

# Whoever reads a log must not be able to replay a request with them.
_SECRET_PARAMS = re.compile(r"(?i)\b(signature|msg_signature|nonce|echostr)=[^&\s\"']*")
# Loggers that write request lines with their query strings.
_ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")


def redact(text: str) -> str:
    return _SECRET_PARAMS.sub(r"\1=-", text)


class RedactQueryFilter(logging.Filter):
    """Blanks signature, msg_signature, nonce and echostr values in a record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_kjzy", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
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
