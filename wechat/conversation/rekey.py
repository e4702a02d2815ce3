"""Re-encrypting the sealed answers inside stored conversation documents (PII key rotation).

A sealed answer is `{"$enc": token}` under data[step]; its context is
`conversation.<flow>.<step>` (ConversationEngine._context). It can sit in the active flow's data,
in its history entries (whole snapshots, or the answers 返回 restores), and in the same places
of each parked flow.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from wechat.conversation.engine import Cipher
from wechat.conversation.store import Document

SEALED = "$enc"


def sealed_context(flow: str, step: str) -> str:
    return f"conversation.{flow}.{step}"


def _sections(doc: Document) -> Iterator[tuple[str, dict[str, Any]]]:
    """(flow name, data mapping) for every place a sealed answer may be stored."""
    flow = str(doc.get("flow") or "")
    yield from _flow_sections(flow, doc)
    parked = doc.get("parked")
    if isinstance(parked, dict):
        for name, saved in parked.items():
            if isinstance(saved, dict):
                yield from _flow_sections(str(name), saved)


def _flow_sections(flow: str, holder: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    data = holder.get("data")
    if isinstance(data, dict):
        yield flow, data
    for entry in holder.get("history") or []:
        if not isinstance(entry, dict):
            continue
        # A whole snapshot ("data", older documents) or the answers an entry restores ("undo").
        for key in ("data", "undo"):
            if isinstance(entry.get(key), dict):
                yield flow, entry[key]


def rekey_document(
    doc: Document, old: Cipher, new: Cipher, *, refused: tuple[type[Exception], ...]
) -> int:
    """Re-encrypt every sealed answer of `doc` in place from `old` to `new`; returns how many.

    An answer already sealed with `new` is left as it is (a rotation run twice). `refused` are
    the ciphers' "cannot open this" errors; one is raised if an answer opens with neither key.
    """
    changed = 0
    for flow, data in _sections(doc):
        for step, value in data.items():
            if not (isinstance(value, dict) and SEALED in value):
                continue
            context = sealed_context(flow, step)
            try:
                plain = old.decrypt(value[SEALED], context=context)
            except refused:
                new.decrypt(value[SEALED], context=context)  # already rotated, or raises
                continue
            data[step] = {SEALED: new.encrypt(plain, context=context)}
            changed += 1
    return changed
