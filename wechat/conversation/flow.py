"""A conversation declared as data: a Flow is a list of Steps.

The engine asks for the first step whose `when(data)` holds and whose value is missing, so adding a
field to a form is one more Step line (plus a column and a migration for where it is saved).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wechat.conversation.answers import AnswerPolicy, InvalidAnswer

if TYPE_CHECKING:
    from wechat.context import Context
    from wechat.messages import Reply

Data = dict[str, Any]
Parser = Callable[[str, Data], Any]
# A parser that must look something up (is this team name taken?) also receives the message's
# context, and through it the app's services.
ContextParser = Callable[[str, Data, "Context[Any]"], Any]
Options = Sequence[str] | Callable[[Data], Sequence[str]]
CONFIRM_WORDS = frozenset({"确认", "确定", "提交"})


@dataclass(frozen=True)
class Step:
    name: str
    label: str
    prompt: str
    # Turns the answer (the chosen option when `choices` is set) into the stored value;
    # raises an error with a Chinese hint (see AnswerPolicy), or an ineligible one to end the flow.
    parse: Parser | None = None
    # Instead of `parse`, for a parser that needs the database: called as (answer, data, ctx).
    parse_in_context: ContextParser | None = None
    choices: Options | None = None
    multiple: bool = False
    when: Callable[[Data], bool] | None = None
    when_label: str = ""
    optional: bool = False
    hint: str = ""
    # Shown in the summary instead of the raw value (masking, code → name).
    display: Callable[[Any, Data], str] | None = None
    # Encrypted inside the conversation state (the ID number).
    sensitive: bool = False
    # Steps whose answers no longer hold when this one changes (county after prefecture).
    resets: tuple[str, ...] = ()
    in_summary: bool = True

    def applies(self, data: Data) -> bool:
        return self.when is None or bool(self.when(data))

    def options(self, data: Data) -> list[str]:
        if self.choices is None:
            return []
        return list(self.choices(data) if callable(self.choices) else self.choices)

    def accept(self, text: str, data: Data, ctx: Context[Any], answers: AnswerPolicy) -> Any:
        options = self.options(data)
        if options:
            chosen: Any = (
                answers.choose_many(text, options)
                if self.multiple
                else answers.choose_one(text, options)
            )
            return self._parse(chosen, data, ctx)
        if self.parse is None and self.parse_in_context is None:
            if not text:
                raise InvalidAnswer("请输入内容。")
            return text
        return self._parse(text, data, ctx)

    def _parse(self, answer: Any, data: Data, ctx: Context[Any]) -> Any:
        if self.parse_in_context is not None:
            return self.parse_in_context(answer, data, ctx)
        if self.parse is not None:
            return self.parse(answer, data)
        return answer

    def render_prompt(self, data: Data) -> str:
        lines = [self.prompt]
        options = self.options(data)
        if options:
            lines.extend(f"{i}. {option}" for i, option in enumerate(options, 1))
            lines.append(
                "可回复多个数字，用空格分开，如「1 3」" if self.multiple else "请回复数字或选项文字"
            )
        if self.optional:
            lines.append("（可回复「跳过」）")
        return "\n".join(lines)

    def show(self, value: Any, data: Data) -> str:
        if value is None:
            return "（未填写）"
        if self.display is not None:
            return self.display(value, data)
        if isinstance(value, list | tuple):
            return "、".join(str(v) for v in value)
        return str(value)


Confirm = Callable[["Context[Any]", Data], "Reply | str"]
Start = Callable[["Context[Any]"], "Reply | str | None"]


@dataclass(frozen=True)
class Flow:
    name: str
    title: str
    steps: Sequence[Step]
    on_confirm: Confirm
    intro: str = ""
    # Runs before a new conversation starts; a reply here replaces the conversation
    # (e.g. an already registered volunteer sees their profile).
    before_start: Start | None = None
    summary_title: str = "请核对以下信息"
    # The word that saves (「确认改名」); 确认/确定/提交 work too unless `strict_confirm`
    # (「确认注销」 and nothing else deletes a volunteer).
    confirm_word: str = "确认"
    strict_confirm: bool = False
    # Replaces the numbered summary; a flow without steps shows only this before its confirm
    # word (a warning before a destructive action).
    summary: Callable[[Data], str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The steps by name (`step` runs for every answer kept in a document, at every message).
    _by_name: dict[str, Step] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, Step] = {}
        for step in self.steps:
            by_name.setdefault(step.name, step)
        object.__setattr__(self, "_by_name", by_name)

    def confirms_with(self, word: str) -> bool:
        if word == self.confirm_word:
            return True
        return not self.strict_confirm and word in CONFIRM_WORDS

    def step(self, name: str) -> Step | None:
        return self._by_name.get(name)

    def next_step(self, data: Data) -> Step | None:
        for step in self.steps:
            if step.name not in data and step.applies(data):
                return step
        return None

    def summary_steps(self, data: Data) -> list[Step]:
        return [s for s in self.steps if s.in_summary and s.applies(data)]

    def prune(self, data: Data) -> Data:
        """Drop answers of steps that no longer apply (after an edit changed a condition)."""
        return {
            k: v
            for k, v in data.items()
            if (step := self._by_name.get(k)) is None or step.applies(data)
        }
