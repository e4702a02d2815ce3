"""Errors raised by the domain validators.

``hint`` is the short Simplified Chinese message shown to the user as-is. It must never contain
sensitive input (ID numbers, phone numbers), because engines may log exceptions.
"""

from __future__ import annotations

__all__ = ["Ineligible", "ValidationError"]


class ValidationError(ValueError):
    """The user's answer cannot be accepted; ``hint`` tells them how to answer instead."""

    hint: str

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


class Ineligible(ValidationError):
    """The answer is valid, but the person cannot register (under 18, below high school).

    The conversation engine ends the flow and keeps nothing when it sees this.
    """
