"""How the engine reads answers, as the app tells it when it builds the engine.

The framework knows no domain rules and no database: the app passes how a numbered choice is
read, which exceptions carry a hint for the user (ask again, or end the flow), and which mean
"the database is unavailable, try again later" (the answers are kept).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

ChooseOne = Callable[[str, Sequence[str]], str]
ChooseMany = Callable[[str, Sequence[str]], list[str]]
ReadNumber = Callable[[str], int | None]
Errors = tuple[type[Exception], ...]


class InvalidAnswer(ValueError):
    """The engine's own refusal of an answer; `hint` is shown to the user as-is."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


class StepError(InvalidAnswer):
    """Raised by a flow's on_confirm when one answer turns out unacceptable at save time
    (a name taken meanwhile, say): the engine asks that step again."""

    def __init__(self, step: str, hint: str) -> None:
        super().__init__(hint)
        self.step = step


@dataclass(frozen=True)
class AnswerPolicy:
    choose_one: ChooseOne
    choose_many: ChooseMany
    # Raised with a `hint`: the answer is not accepted, the step is asked again.
    invalid: Errors = ()
    # Raised with a `hint`: the flow ends and nothing is kept (checked before `invalid`).
    ineligible: Errors = ()
    # At 确认: saving failed for now (database unreachable); the answers stay in the conversation.
    retry_later: Errors = ()
    # A number said in words (「三」 in 「修改三」, from speech recognition); None if it is none.
    read_number: ReadNumber = lambda _words: None

    @property
    def refusals(self) -> Errors:
        return (InvalidAnswer, *self.invalid)


def hint_of(exc: BaseException) -> str:
    hint = getattr(exc, "hint", None)
    return hint if isinstance(hint, str) and hint else str(exc)
