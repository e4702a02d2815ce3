"""The conversation engine: back, cancel, restart, help, skip, summary, edit, confirm and timeout,
for every flow. Flows only declare their steps and what happens on 确认.

State document (one per user, see store.py):
    {flow, step, data, history, editing, expires_at, version, parked, last_message}
`history` is a stack of {step, undo, drop}: the answers an answer replaced or removed and the
ones it added, so 返回 restores the data before it (older documents: {step, data}); `parked`
keeps unfinished flows the user left by tapping another menu, so nothing is lost silently.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from wechat.conversation.answers import AnswerPolicy, StepError, hint_of
from wechat.conversation.flow import Data, Flow, Step
from wechat.conversation.store import ConversationStore, Document, PrimableStore
from wechat.messages import Reply, as_reply

if TYPE_CHECKING:
    from wechat.context import Context

log = logging.getLogger("wechat.conversation")

BACK = {"返回", "上一步", "上一题"}
RESTART = {"重新开始", "重新填写"}
CONTINUE = {"继续", "继续填写"}
SKIP = {"跳过", "无", "没有"}
# 「修改 3」, and as said aloud 「修改三」, 「改第三项」 (the app reads the numeral).
EDIT_RE = re.compile(r"^(?:修改|改)\s*第?([0-9]{1,2}|[一二两三四五六七八九十]{1,3})(?:项|个|条)?$")
KEEP_AFTER_EXPIRY_SECONDS = 24 * 3600
_ENC = "$enc"

TIMEOUT_TEXT = "上次填写已超时，请重新点击菜单开始。"
SAVE_FAILED = "系统暂时无法保存，您填写的内容已为您保留。请稍后再次回复「确认」。"
UNKNOWN_FLOW = "系统已更新，之前的填写无法继续，请重新点击菜单开始。"


class Cipher(Protocol):
    """Encrypts sensitive answers inside the conversation state (the app's PII cipher)."""

    def encrypt(self, plaintext: str, *, context: str) -> str: ...
    def decrypt(self, token: str, *, context: str) -> str: ...


@dataclass
class State:
    flow: str
    data: Data = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    editing: str | None = None
    expires_at: float = 0.0
    version: int = 0
    parked: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The message whose answer this state holds (its dedup key): a redelivery of it, handled
    # again after the process that saved it died before answering, is not applied twice.
    last_message: str | None = None

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at

    def to_doc(self, step: str | None) -> Document:
        return {
            "flow": self.flow,
            "step": step,
            "data": self.data,
            "history": self.history,
            "editing": self.editing,
            "expires_at": self.expires_at,
            "version": self.version,
            "parked": self.parked,
            "last_message": self.last_message,
        }

    @classmethod
    def from_doc(cls, doc: Document) -> State:
        return cls(
            flow=str(doc.get("flow") or ""),
            data=dict(doc.get("data") or {}),
            history=list(doc.get("history") or []),
            editing=doc.get("editing"),
            expires_at=float(doc.get("expires_at") or 0),
            version=int(doc.get("version") or 0),
            parked=dict(doc.get("parked") or {}),
            last_message=doc.get("last_message"),
        )


def _undo(step: str, before: Data, after: Data) -> dict[str, Any]:
    """A history entry: what answering `step` changed, to be undone by 返回 (`_undone`). Only
    the difference is kept, so a document grows by one answer per step, not by a copy of all
    answers so far (the values are never changed in place, only replaced)."""
    undo = {k: v for k, v in before.items() if k not in after or after[k] != v}
    drop = [k for k in after if k not in before]
    return {"step": step, "undo": undo, "drop": drop}


def _undone(data: Data, entry: dict[str, Any]) -> Data:
    """The answers as they were before the history entry `entry`."""
    if "data" in entry:  # an entry kept whole (documents written before deltas)
        return dict(entry["data"] or {})
    drop = set(entry.get("drop") or ())
    restored = {k: v for k, v in data.items() if k not in drop}
    restored.update(entry.get("undo") or {})
    return restored


class ConversationEngine:
    def __init__(
        self,
        store: ConversationStore,
        flows: list[Flow],
        *,
        timeout_seconds: int,
        cipher: Cipher,
        answers: AnswerPolicy,
    ) -> None:
        self.store = PrimableStore(store)
        self.flows = {flow.name: flow for flow in flows}
        if len(self.flows) != len(flows):
            raise ValueError("two flows share a name")
        self.timeout_seconds = timeout_seconds
        self.cipher = cipher
        self.answers = answers
        self._opened = threading.local()

    # -- state --------------------------------------------------------------------------

    def _read(self, openid: str) -> State | None:
        doc = self.store.get(openid)
        return State.from_doc(doc) if doc else None

    def load(self, openid: str) -> State | None:
        """The active conversation, if any (possibly expired: the caller checks)."""
        state = self._read(openid)
        if state is None or not state.flow:
            return None
        return state

    def from_memory(self, raw: bytes | str) -> bool:
        """Whether a text message (not a global word) to the conversation in the document `raw`
        is answered without the database or the API: the current question has a plain parser
        (so not the summary, where 确认 saves, nor a question whose parser looks something up),
        or the conversation has expired or its flow is gone. The dispatcher then answers it on
        the request thread."""
        try:
            doc = self.store.parse(raw)
        except ValueError:
            return False
        if not isinstance(doc, dict):
            return False
        state = State.from_doc(doc)
        if not state.flow or state.expired or state.flow not in self.flows:
            return bool(state.flow)
        flow = self.flows[state.flow]
        step = self._current_step(flow, state)
        return step is not None and step.parse_in_context is None

    def _save(self, openid: str, state: State) -> None:
        state.version += 1
        state.expires_at = time.time() + self.timeout_seconds
        flow = self.flows.get(state.flow)
        step = self._current_step(flow, state) if flow else None
        self.store.put(
            openid,
            state.to_doc(step.name if step else None),
            self.timeout_seconds + KEEP_AFTER_EXPIRY_SECONDS,
        )

    def _end(self, openid: str, state: State) -> str | None:
        """Finish the active flow; keep parked ones. Returns a note about a parked flow."""
        if state.parked:
            state.flow, state.data, state.history, state.editing = "", {}, [], None
            self._save(openid, state)
            return self._parked_note(state)
        self.store.delete(openid)
        return None

    def expire(self, openid: str) -> None:
        self.store.delete(openid)

    def forget(self, openid: str) -> None:
        """Drop everything, parked flows included (de-registration)."""
        self.store.delete(openid)

    # -- sensitive values ---------------------------------------------------------------

    def _context(self, flow: Flow, step: Step) -> str:
        return f"conversation.{flow.name}.{step.name}"

    def _seal(self, flow: Flow, step: Step, value: Any) -> Any:
        if not step.sensitive or value is None:
            return value
        return {_ENC: self.cipher.encrypt(str(value), context=self._context(flow, step))}

    def _plain(self, flow: Flow, data: Data) -> Data:
        plain: Data = {}
        opened: dict[str, str] | None = getattr(self._opened, "values", None)
        for key, value in data.items():
            step = flow.step(key)
            if step is not None and isinstance(value, dict) and _ENC in value:
                token = value[_ENC]
                found = opened.get(token) if opened is not None else None
                if found is None:
                    found = self.cipher.decrypt(token, context=self._context(flow, step))
                    if opened is not None:
                        opened[token] = found
                plain[key] = found
            else:
                plain[key] = value
        return plain

    # -- entry points ---------------------------------------------------------------------

    def start(
        self,
        ctx: Context[Any],
        flow_name: str,
        *,
        about: Data | None = None,
        answer: str | None = None,
    ) -> Reply:
        """Start (or continue) a flow. `about` starts it afresh about something (the team to
        rename): values that are not steps, kept through 返回 and 重新开始. `answer` is an answer
        typed with the command (「修改队名 新名称」), taken as the reply to the first question."""
        flow = self.flows[flow_name]
        ctx.started_flow = flow_name
        state = self._read(ctx.openid)
        if state is not None and state.expired:
            self.store.delete(ctx.openid)
            state = None
        if state is not None and about is not None:
            if state.flow == flow_name:
                state.flow, state.data, state.history, state.editing = "", {}, [], None
            state.parked.pop(flow_name, None)
        if state is not None and state.flow == flow_name:
            return self._continue_reply(flow, state, "您有尚未完成的填写，我们接着来。")
        if state is not None and flow_name in state.parked:
            self._park_active(state)
            self._unpark(state, flow_name)
            self._save(ctx.openid, state)
            return self._continue_reply(flow, state, "欢迎回来，我们接着上次的填写继续。")
        if flow.before_start is not None:
            early = as_reply(flow.before_start(ctx))
            if early is not None:
                return early
        if state is None:
            state = State(flow=flow_name)
        else:
            self._park_active(state)
            state.flow = flow_name
        state.data = dict(about or {})
        self._save(ctx.openid, state)
        step = self._current_step(flow, state)
        if answer and step is not None:
            return self._answer(ctx, flow, state, step, answer, re.sub(r"\s+", "", answer))
        return self._ask_next(flow, state, flow.intro)

    def resume(self, ctx: Context[Any]) -> Reply | None:
        """继续: the active flow's question again, or the parked flow brought back."""
        state = self._read(ctx.openid)
        if state is None or state.expired:
            return None
        if state.flow and state.flow in self.flows:
            return self._continue_reply(self.flows[state.flow], state, "我们接着来。")
        for name in list(state.parked):
            if name in self.flows:
                self._unpark(state, name)
                self._save(ctx.openid, state)
                return self._continue_reply(
                    self.flows[name], state, "欢迎回来，我们接着上次的填写继续。"
                )
        return None

    def cancel(self, ctx: Context[Any]) -> Reply | None:
        state = self.load(ctx.openid)
        if state is None:
            return None
        flow = self.flows.get(state.flow)
        title = flow.title if flow else "填写"
        note = self._end(ctx.openid, state)
        text = f"已取消「{title}」，刚才填写的内容没有保存。"
        return Reply(text=f"{text}\n\n{note}" if note else text)

    def help_reply(self, ctx: Context[Any]) -> Reply | None:
        state = self.load(ctx.openid)
        if state is None or state.expired or state.flow not in self.flows:
            return None
        flow = self.flows[state.flow]
        step = self._current_step(flow, state)
        words = "可用指令：「返回」上一步，「取消」退出，「重新开始」从头填写。"
        if step is None:
            return Reply(text=f"{self._summary_hint(flow)}\n{words}")
        hint = step.hint or "请按提示回答当前问题。"
        return Reply(
            text=f"【{flow.title}·{step.label}】\n{hint}\n\n{words}\n\n{step.render_prompt(self._plain(flow, state.data))}"
        )

    def timeout_reply(self, state: State) -> Reply:
        return Reply(text=TIMEOUT_TEXT)

    def non_text_reply(self, state: State) -> Reply:
        flow = self.flows.get(state.flow)
        if flow is None:
            return Reply(text=UNKNOWN_FLOW)
        step = self._current_step(flow, state)
        question = (
            step.render_prompt(self._plain(flow, state.data)) if step else self._summary_hint(flow)
        )
        return Reply(text=f"暂时只能识别文字，请用文字回答。\n\n{question}")

    def kept_note(self, ctx: Context[Any], previous_flow: str) -> str | None:
        """After a menu tap in the middle of `previous_flow`: say the answers are kept."""
        if ctx.started_flow == previous_flow:
            return None
        state = self._read(ctx.openid)
        flow = self.flows.get(previous_flow)
        if state is None or flow is None:
            return None
        if state.flow == previous_flow:
            return f"您的「{flow.title}」尚未完成，已为您保存。回复「继续」即可接着填写。"
        if previous_flow in state.parked:
            return f"您之前未完成的「{flow.title}」已为您保存，之后回复「继续」即可接着填写。"
        return None

    def handle(self, ctx: Context[Any], state: State) -> Reply:
        # A sealed answer is opened once per message however often its steps read the answers
        # (the answer, the next prompt); the opened values are dropped when the reply is made.
        self._opened.values = {}
        try:
            return self._handle(ctx, state)
        finally:
            self._opened.values = None

    def _handle(self, ctx: Context[Any], state: State) -> Reply:
        flow = self.flows.get(state.flow)
        if flow is None:
            self.store.delete(ctx.openid)
            return Reply(text=UNKNOWN_FLOW)
        if state.last_message == ctx.msg.dedup_key:
            # Already applied (the process that did it died before answering): ask what is next.
            return self._continue_reply(flow, state, "")
        state.last_message = ctx.msg.dedup_key
        text = ctx.text
        word = re.sub(r"\s+", "", text)
        if word in BACK:
            return self._back(ctx, flow, state)
        if word in RESTART:
            about = {k: v for k, v in state.data.items() if flow.step(k) is None}
            state.data, state.history, state.editing = about, [], None
            self._save(ctx.openid, state)
            return self._ask_next(flow, state, "好的，我们从头开始。")
        if word in CONTINUE:
            return self._continue_reply(flow, state, "我们接着来。")

        step = self._current_step(flow, state)
        if step is None:
            return self._at_summary(ctx, flow, state, word)
        return self._answer(ctx, flow, state, step, text, word)

    # -- internals ------------------------------------------------------------------------

    def _current_step(self, flow: Flow | None, state: State) -> Step | None:
        if flow is None:
            return None
        if state.editing:
            step = flow.step(state.editing)
            if step is not None and step.applies(state.data):
                return step
            state.editing = None
        return flow.next_step(state.data)

    def _answer(
        self, ctx: Context[Any], flow: Flow, state: State, step: Step, text: str, word: str
    ) -> Reply:
        plain = self._plain(flow, state.data)
        if not text:
            return Reply(text=f"请用文字回答。\n\n{self._prompt(flow, state, step)}")
        if word in SKIP and step.optional:
            value: Any = None
        else:
            try:
                value = step.accept(text, plain, ctx, self.answers)
            except self.answers.ineligible as exc:
                return self._ineligible(ctx, state, exc)
            except self.answers.refusals as exc:
                return Reply(
                    text=f"{hint_of(exc)}\n（回复「帮助」查看说明，「返回」上一步，「取消」退出）"
                )
        before = dict(state.data)
        state.data[step.name] = self._seal(flow, step, value)
        for name in step.resets:
            state.data.pop(name, None)
        state.data = flow.prune(state.data)
        state.history.append(_undo(step.name, before, state.data))
        state.editing = None
        self._save(ctx.openid, state)
        return self._ask_next(flow, state)

    def _ask_next(self, flow: Flow, state: State, prefix: str = "") -> Reply:
        step = self._current_step(flow, state)
        head = f"{prefix}\n\n" if prefix else ""
        if step is not None:
            return Reply(text=head + self._prompt(flow, state, step))
        return Reply(text=head + self._summary(flow, state))

    def _prompt(self, flow: Flow, state: State, step: Step) -> str:
        return step.render_prompt(self._plain(flow, state.data))

    def _summary(self, flow: Flow, state: State) -> str:
        plain = self._plain(flow, state.data)
        if flow.summary is not None:
            return flow.summary(plain)
        lines = [f"{flow.summary_title}："]
        for i, step in enumerate(flow.summary_steps(plain), 1):
            lines.append(f"{i}. {step.label}：{step.show(plain.get(step.name), plain)}")
        lines.append("")
        lines.append(
            f"无误请回复「{flow.confirm_word}」；需要修改请回复「修改 序号」，如「修改 2」。"
        )
        return "\n".join(lines)

    def _summary_hint(self, flow: Flow) -> str:
        if not flow.steps:
            return f"请回复「{flow.confirm_word}」继续，或回复「取消」放弃。"
        return f"请回复「{flow.confirm_word}」保存，或回复「修改 序号」修改某一项，「取消」放弃。"

    def _at_summary(self, ctx: Context[Any], flow: Flow, state: State, word: str) -> Reply:
        if flow.confirms_with(word):
            return self._confirm(ctx, flow, state)
        match = EDIT_RE.match(word)
        index = self._edit_number(match.group(1)) if match else None
        if index is not None and flow.steps:
            steps = flow.summary_steps(self._plain(flow, state.data))
            if not 1 <= index <= len(steps):
                return Reply(
                    text=f"没有第 {index} 项，请回复 1 到 {len(steps)} 之间的序号，如「修改 2」。"
                )
            state.editing = steps[index - 1].name
            self._save(ctx.openid, state)
            step = steps[index - 1]
            current = step.show(self._plain(flow, state.data).get(step.name), state.data)
            return Reply(text=f"当前：{current}\n\n{self._prompt(flow, state, step)}")
        return Reply(text=self._summary_hint(flow))

    def _edit_number(self, said: str) -> int | None:
        if said.isascii():
            return int(said)
        return self.answers.read_number(said)

    def _confirm(self, ctx: Context[Any], flow: Flow, state: State) -> Reply:
        plain = self._plain(flow, state.data)
        try:
            result = flow.on_confirm(ctx, plain)
        except StepError as exc:
            state.editing = exc.step if flow.step(exc.step) else None
            self._save(ctx.openid, state)
            return self._ask_next(flow, state, exc.hint)
        except self.answers.ineligible as exc:
            return self._ineligible(ctx, state, exc)
        except self.answers.refusals as exc:
            return Reply(text=hint_of(exc))
        except self.answers.retry_later:
            log.warning(
                "save failed, answers kept in the conversation openid=%s flow=%s",
                ctx.openid,
                flow.name,
            )
            return Reply(text=SAVE_FAILED)
        reply = as_reply(result) or Reply(text="已保存。")
        if self._read(ctx.openid) is None:
            return reply  # on_confirm forgot the user, parked flows included (de-registration)
        note = self._end(ctx.openid, state)
        if note and not reply.articles:
            reply = Reply(text=f"{reply.text}\n\n{note}")
        return reply

    def _ineligible(self, ctx: Context[Any], state: State, exc: Exception) -> Reply:
        """The person cannot go on (under 18, say): end the flow, keep nothing."""
        note = self._end(ctx.openid, state)
        hint = hint_of(exc)
        return Reply(text=f"{hint}\n\n{note}" if note else hint)

    def _back(self, ctx: Context[Any], flow: Flow, state: State) -> Reply:
        if state.editing:
            state.editing = None
            self._save(ctx.openid, state)
            return self._ask_next(flow, state, "已放弃本次修改。")
        if not state.history:
            step = self._current_step(flow, state)
            if step is None:  # a flow without steps: going back leaves it
                return self.cancel(ctx) or Reply(text=TIMEOUT_TEXT)
            return Reply(text=f"已经是第一个问题了。\n\n{self._prompt(flow, state, step)}")
        entry = state.history.pop()
        previous = state.data.get(entry["step"])
        state.data = _undone(state.data, entry)
        self._save(ctx.openid, state)
        step = flow.step(entry["step"])
        if step is None:
            return self._ask_next(flow, state)
        shown = step.show(self._plain(flow, {step.name: previous}).get(step.name), state.data)
        return Reply(
            text=f"已返回上一步（之前的回答：{shown}）。\n\n{self._prompt(flow, state, step)}"
        )

    def _continue_reply(self, flow: Flow, state: State, prefix: str) -> Reply:
        return self._ask_next(flow, state, prefix)

    def _park_active(self, state: State) -> None:
        if state.flow and state.flow in self.flows and (state.data or state.history):
            state.parked[state.flow] = {
                "data": state.data,
                "history": state.history,
                "editing": state.editing,
            }
        state.flow, state.data, state.history, state.editing = "", {}, [], None

    def _unpark(self, state: State, name: str) -> None:
        saved = state.parked.pop(name)
        state.flow = name
        state.data = dict(saved.get("data") or {})
        state.history = list(saved.get("history") or [])
        state.editing = saved.get("editing")

    def _parked_note(self, state: State) -> str | None:
        titles = [self.flows[name].title for name in state.parked if name in self.flows]
        if not titles:
            return None
        return f"您还有未完成的「{titles[0]}」，回复「继续」即可接着填写。"
