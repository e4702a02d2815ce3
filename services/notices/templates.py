"""The account's template messages: WeChat's value rules for each key kind, registering
templates by hand or syncing them from WeChat."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.clock import utcnow
from domain.errors import ValidationError
from domain.text import clip
from models.notice import NoticeTemplate
from services.operators import Actor, audit

# -- template value rules -------------------------------------------------------------------
# WeChat's category templates name each key by its kind (thing1, time2, phrase3 ...) and refuse
# a value that breaks the kind's rule with 47003. Checking here keeps 47003 out of a run.

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_DATE = r"(\d{4})(?:年|-|/|\.)(\d{1,2})(?:月|-|/|\.)(\d{1,2})日?"
_TIME = r"(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?"


def _real_date(y: str, m: str, d: str) -> bool:
    try:
        datetime(int(y), int(m), int(d))
    except ValueError:
        return False
    return True


def _real_time(h: str, m: str, s: str | None) -> bool:
    return int(h) <= 23 and int(m) <= 59 and (s is None or int(s) <= 59)


def _moment(text: str, *, date_rule: bool) -> bool:
    """A date-time (time keys: the hour is required, the date optional) or a date (date keys:
    WeChat documents an optional time too, but we stay with what every checker accepts)."""
    found = re.fullmatch(rf"(?:{_DATE})?\s*(?:{_TIME})?", text.strip())
    if not found or not text.strip():
        return False
    y, mo, d, h, mi, s = found.groups()
    if date_rule and (y is None or h is not None):
        return False
    if not date_rule and h is None:
        return False
    return (y is None or _real_date(y, mo, d)) and (h is None or _real_time(h, mi, s))


def _moments(value: str, *, date_rule: bool) -> bool:
    """One moment or a range `A~B`."""
    parts = re.split(r"[~～]", value)
    if len(parts) > 2:
        return False
    return all(_moment(part, date_rule=date_rule) for part in parts)


@dataclass(frozen=True)
class ValueRule:
    kind: str
    hint: str
    check: Callable[[str], bool]


VALUE_RULES: dict[str, ValueRule] = {
    rule.kind: rule
    for rule in (
        ValueRule("thing", "不超过20个字", lambda v: len(v) <= 20),
        ValueRule(
            "time",
            "时间，如 2025年9月20日 09:00、09:00，或用~连接的时间段",
            lambda v: _moments(v, date_rule=False),
        ),
        ValueRule(
            "date",
            "日期，如 2025年9月20日，或用~连接的日期段",
            lambda v: _moments(v, date_rule=True),
        ),
        ValueRule("phrase", "不超过5个汉字", lambda v: bool(re.fullmatch(f"[{_CJK}]{{1,5}}", v))),
        ValueRule(
            "number",
            "不超过32位数字，可带小数点",
            lambda v: len(v) <= 32 and bool(re.fullmatch(r"\d+(\.\d+)?", v)),
        ),
        ValueRule(
            "amount",
            "金额，如 ¥12.50 或 12元（不超过10位数字）",
            lambda v: bool(re.fullmatch(r"[¥￥$€£]?\d{1,10}(\.\d{1,2})?元?", v)),
        ),
        ValueRule(
            "character_string",
            "不超过32位字母、数字、下划线或连字符",
            lambda v: bool(re.fullmatch(r"[0-9A-Za-z_\-]{1,32}", v)),
        ),
        ValueRule(
            "letter", "不超过32个英文字母", lambda v: bool(re.fullmatch(r"[A-Za-z]{1,32}", v))
        ),
        ValueRule(
            "symbol",
            "不超过5个符号",
            lambda v: bool(re.fullmatch(rf"[^\w\s{_CJK}]{{1,5}}", v)),
        ),
        ValueRule(
            "car_number",
            "车牌号，不超过8位，如 甘A12345",
            lambda v: len(v) <= 8 and bool(re.fullmatch(f"[{_CJK}]?[A-Z0-9]{{1,7}}[{_CJK}]?", v)),
        ),
        ValueRule(
            "name",
            "姓名，不超过10个汉字或20个字母",
            lambda v: bool(
                re.fullmatch(f"[{_CJK}·]{{1,10}}", v) or re.fullmatch(r"[A-Za-z ]{1,20}", v)
            ),
        ),
        ValueRule(
            "phone_number",
            "电话号码，不超过17位数字、+或-",
            lambda v: bool(re.fullmatch(r"[0-9+\-]{1,17}", v)),
        ),
    )
}
OTHER_RULE = ValueRule("other", "不超过200字", lambda v: len(v) <= 200)


def rule_for(key: str) -> ValueRule:
    return VALUE_RULES.get(re.sub(r"\d+$", "", key), OTHER_RULE)


def check_value(key: str, value: str) -> str | None:
    """None when `value` fits the rule of `key`, else a hint (in Chinese)."""
    if not value.strip():
        return "不能为空"
    if value != value.strip():
        return "首尾不能有空格"
    rule = rule_for(key)
    return None if rule.check(value) else rule.hint


# -- templates -------------------------------------------------------------------------------

_KEY_RE = re.compile(r"^[A-Za-z_]+\d*$")
_CONTENT_LINE = re.compile(r"^\s*(?P<label>[^:：{}]*?)\s*[:：]?\s*\{\{\s*(?P<key>\w+)\.DATA\s*\}\}")


def parse_fields(text: str) -> list[dict[str, str]]:
    """Template keys, one per line: `thing1 活动名称`, `thing1：活动名称`, or a line of the
    template's content as WeChat shows it: `活动名称:{{thing1.DATA}}`."""
    fields: list[dict[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        found = _CONTENT_LINE.match(line)
        if found:
            key, label = found["key"], found["label"]
        else:
            parts = re.split(r"[\s:：]+", line, maxsplit=1)
            key, label = parts[0], parts[1] if len(parts) > 1 else ""
        if not _KEY_RE.match(key):
            raise ValidationError(f"「{clip(line, 30)}」：关键词应像 thing1、time2 这样。")
        if any(f["key"] == key for f in fields):
            raise ValidationError(f"关键词 {key} 重复了。")
        fields.append({"key": key, "label": label.strip()[:20] or key})
    if not fields:
        raise ValidationError("请至少填写一个关键词，每行一个，如「thing1 活动名称」。")
    return fields


def fields_text(fields: Iterable[Mapping[str, str]]) -> str:
    return "\n".join(f"{f['key']} {f['label']}" for f in fields)


def save_template(
    session: Session,
    template: NoticeTemplate | None,
    *,
    template_id: str,
    title: str,
    fields: list[dict[str, str]],
    actor: Actor | None,
    ip: str | None,
    action: str = "template_save",
) -> NoticeTemplate:
    template_id, title = template_id.strip(), title.strip()
    if not re.fullmatch(r"[A-Za-z0-9_\-]{10,64}", template_id):
        raise ValidationError("模板ID为10-64位字母、数字、下划线或连字符，请从公众号后台复制。")
    if not title or len(title) > 60:
        raise ValidationError("请填写模板标题（不超过60字）。")
    clash = session.scalar(select(NoticeTemplate).where(NoticeTemplate.template_id == template_id))
    if clash is not None and clash is not template:
        raise ValidationError("这个模板ID已经登记过了。")
    if template is None:
        template = NoticeTemplate(active=True, verified=False)
        session.add(template)
    if template.template_id != template_id:
        template.verified = action == "template_sync"  # an ID typed by hand: not yet known
    template.template_id, template.title, template.fields = template_id, title, fields
    template.updated_at = utcnow()
    session.flush()
    audit(session, actor, action, summary=f"登记模板：{title}", target=template, ip=ip)
    return template


def sync_templates(
    session: Session, wechat_templates: Iterable[Mapping[str, Any]], actor: Actor, ip: str | None
) -> int:
    """Register or refresh the account's templates as WeChat lists them; returns how many."""
    count = 0
    for item in wechat_templates:
        content = str(item.get("content", ""))
        fields = [
            {"key": m["key"], "label": (m["label"] or m["key"])[:20]}
            for m in (_CONTENT_LINE.match(line) for line in content.splitlines())
            if m
        ]
        if not fields or not item.get("template_id"):
            continue
        existing = session.scalar(
            select(NoticeTemplate).where(NoticeTemplate.template_id == item["template_id"])
        )
        synced = save_template(
            session,
            existing,
            template_id=str(item["template_id"]),
            title=str(item.get("title", ""))[:60] or "未命名模板",
            fields=fields,
            actor=actor,
            ip=ip,
            action="template_sync",
        )
        synced.verified = True  # WeChat listed it: the account has it
        count += 1
    return count


def mark_verified(session: Session, template: NoticeTemplate, known: bool) -> None:
    """A test send with the template succeeded (known) or WeChat said the ID is invalid."""
    if template.verified != known:
        template.verified = known
        template.updated_at = utcnow()


UNVERIFIED_HINT = (
    "这个模板还没有经过验证：请先「发送测试消息给我」并确认收到，"
    "或在「模板」页「从微信同步」，然后才能确认发送。"
)


def active_templates(session: Session) -> Sequence[NoticeTemplate]:
    return session.scalars(
        select(NoticeTemplate).where(NoticeTemplate.active.is_(True)).order_by(NoticeTemplate.id)
    ).all()
