"""Composing a notice: checking a draft, prefilling it from an activity, storing it queued."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from domain import clock
from domain.clock import utcnow
from domain.errors import ValidationError
from domain.text import clip
from models.activity import Activity
from models.need import CLAIMED, PUBLISHED, Need
from models.notice import QUEUED, Notice, NoticeTemplate
from models.team import Team
from services.notices.audience import Audience
from services.notices.templates import UNVERIFIED_HINT, check_value, rule_for
from services.operators import Actor, Scope, audit

# -- composing -------------------------------------------------------------------------------


class DraftError(ValidationError):
    """Problems with a draft: `errors` maps a field (a data key, "url", "audience") to a hint."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("；".join(f"{k}：{v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class Draft:
    template: NoticeTemplate
    data: dict[str, str]
    url: str | None
    audience: Audience
    activity_id: int | None = None
    team_name: str | None = None
    need_no: str | None = None
    errors: dict[str, str] = field(default_factory=dict)


def check_url(url: str | None) -> str | None:
    value = (url or "").strip()
    if not value:
        return None
    if len(value) > 1024 or not re.fullmatch(r"https?://[^\s/]+\S*", value):
        raise ValidationError("链接应以 http:// 或 https:// 开头，不超过1024个字符。")
    return value


def check_draft(
    session: Session,
    scope: Scope,
    *,
    template_pk: int,
    data: Mapping[str, str],
    url: str | None,
    audience: Audience,
    activity_id: int | None = None,
) -> Draft:
    """A checked draft, or DraftError naming each bad field."""
    template = session.get(NoticeTemplate, template_pk)
    if template is None or not template.active:
        raise DraftError({"template": "请选择一个模板。"})
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for item in template.fields:
        key = item["key"]
        value = str(data.get(key, ""))
        values[key] = value
        problem = check_value(key, value)
        if problem:
            errors[key] = f"{item['label']}：{problem}"
    try:
        checked_url = check_url(url)
    except ValidationError as exc:
        errors["url"], checked_url = exc.hint, None
    team_name: str | None = None
    need_no: str | None = None
    try:
        scope.narrow(audience.region)
        if audience.team_id:
            team = session.get(Team, audience.team_id)
            if team is None or not scope.allows(team.prefecture_code, team.county_code):
                raise ValidationError("只能选择本辖区内的服务队。")
            team_name = team.name
        need_no = _need_no(session, scope, audience.need_id) if audience.need_id else None
    except ValidationError as exc:
        errors["audience"] = exc.hint
    if activity_id is not None and session.get(Activity, activity_id) is None:
        errors["activity"] = "活动不存在。"
    if errors:
        raise DraftError(errors)
    return Draft(template, values, checked_url, audience, activity_id, team_name, need_no)


def _need_no(session: Session, scope: Scope, need_id: int) -> str:
    """A notice to a need's matched volunteers: the need is published (or claimed) and lies in
    the scope the notice is sent in."""
    need = session.get(Need, need_id)
    if need is None or not scope.allows(need.prefecture_code, need.county_code):
        raise ValidationError("只能通知本辖区内需求的匹配志愿者。")
    if need.status not in (PUBLISHED, CLAIMED):
        raise ValidationError(
            f"需求 {need.need_no} 当前为「{need.status_label}」，不能通知志愿者。"
        )
    return need.need_no


def prefill(template: NoticeTemplate, activity: Activity, team_name: str) -> dict[str, str]:
    """Template values taken from an activity, chosen by each key's label; the operator can
    change them before sending."""
    values: dict[str, str] = {}
    for item in template.fields:
        key, label = item["key"], item["label"]
        kind = rule_for(key).kind
        value: str | None = None
        if kind in ("time", "date") or "时间" in label or "日期" in label:
            value = (
                clock.show(activity.starts_at, "%Y年%-m月%-d日")
                if kind == "date"
                else clock.show(activity.starts_at, "%Y年%-m月%-d日 %H:%M")
            )
        elif "地点" in label or "地址" in label:
            value = activity.place
        elif "名称" in label or "主题" in label or "活动" in label:
            value = activity.title
        elif "联系" in label or "电话" in label:
            value = _contact_part(activity.contact, kind)
        elif "类型" in label or "类别" in label:
            value = activity.type
        elif "组织" in label or "主办" in label or "单位" in label:
            value = team_name
        if value is not None:
            value = clip(value, 20) if kind == "thing" else value
            if check_value(key, value) is None:  # never prefill what the preview would refuse
                values[key] = value
    return values


_PHONE_IN_TEXT = re.compile(r"\+?\d[\d\-]{4,16}\d")


def _contact_part(contact: str, kind: str) -> str:
    """「张老师 0931-8912345」: the number for a phone key, the name for a name key."""
    phone = _PHONE_IN_TEXT.search(contact)
    if kind == "phone_number" and phone:
        return phone.group(0)
    if kind == "name" and phone:
        return contact.replace(phone.group(0), "").strip(" ：:，,")
    return contact


TEST_MARK = "【测试】"
# Kinds whose values may start with the mark (free text); the first such field carries it.
_MARKABLE = ("thing", "other")


def test_values(template: NoticeTemplate, data: Mapping[str, str]) -> dict[str, str]:
    """The values of a test send: the first free-text field starts with 【测试】, shortened to
    stay within its rule, so nobody mistakes the test for the notice itself."""
    values = dict(data)
    for item in template.fields:
        key = item["key"]
        if rule_for(key).kind not in _MARKABLE:
            continue
        limit = 20 if rule_for(key).kind == "thing" else 200
        text = values.get(key, "")
        values[key] = TEST_MARK + clip(text, limit - len(TEST_MARK)) if text else TEST_MARK
        if check_value(key, values[key]) is None:
            return values
        values[key] = text
    return values


def create_notice(
    session: Session,
    scope: Scope,
    draft: Draft,
    actor: Actor | None,
    ip: str | None,
    *,
    actor_name: str | None = None,
) -> Notice:
    """Store the notice as queued (the caller enqueues it after commit). A template typed in by
    hand must first prove WeChat knows it (templates.UNVERIFIED_HINT)."""
    if not draft.template.verified:
        raise ValidationError(UNVERIFIED_HINT)
    notice = Notice(
        template_id=draft.template.id,
        activity_id=draft.activity_id,
        data=draft.data,
        url=draft.url,
        audience=draft.audience.to_json(),
        audience_text=draft.audience.describe(scope, draft.team_name, draft.need_no)[:255],
        prefecture_code=scope.prefecture_code,
        county_code=scope.county_code,
        status=QUEUED,
        created_by=actor.id if actor is not None else None,
        queued_at=utcnow(),
    )
    session.add(notice)
    session.flush()
    audit(
        session,
        actor,
        "notice_send",
        summary=f"发送通知：{draft.template.title} → {notice.audience_text}",
        target=notice,
        detail={"data": draft.data, "url": draft.url, "audience": draft.audience.to_json()},
        ip=ip,
        actor=actor_name,
    )
    return notice


def visible_notices(scope: Scope) -> Select[Notice]:
    return select(Notice).where(scope.where(Notice.prefecture_code, Notice.county_code))


def get_visible(session: Session, scope: Scope, notice_id: int) -> Notice | None:
    return session.scalar(visible_notices(scope).where(Notice.id == notice_id))


def notice_scope(notice: Notice) -> Scope:
    return Scope(notice.prefecture_code, notice.county_code)
