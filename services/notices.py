"""Template-message notices: templates and their value rules, audiences, composing, progress,
pause/resume/cancel, delivery reports. Sending itself is in worker/sender.py."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import redis
from sqlalchemy import (
    ColumnElement,
    Select,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.orm import Session

from domain import clock, regions
from domain.choices import SERVICE_TIMES, SKILLS
from domain.errors import ValidationError
from domain.text import clip
from infra.redis import Keys
from models.activity import Activity
from models.base import utcnow
from models.follower import Follower
from models.notice import (
    CANCELLED,
    DELIVERED,
    FINISHED,
    PAUSED,
    QUEUED,
    R_CANCELLED,
    R_FAILED,
    R_QUEUED,
    R_RETRY,
    R_SENDING,
    R_SENT,
    SENDING,
    STOPPED,
    SYSTEM_FAILED,
    USER_BLOCK,
    Notice,
    NoticeRecipient,
    NoticeTemplate,
)
from models.team import MEMBERSHIP_JOINED, Membership, Team
from models.volunteer import ACTIVE, Volunteer
from services import signups
from services.operators import Actor, Scope, audit

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
        template = NoticeTemplate(active=True)
        session.add(template)
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
        save_template(
            session,
            existing,
            template_id=str(item["template_id"]),
            title=str(item.get("title", ""))[:60] or "未命名模板",
            fields=fields,
            actor=actor,
            ip=ip,
            action="template_sync",
        )
        count += 1
    return count


def active_templates(session: Session) -> Sequence[NoticeTemplate]:
    return session.scalars(
        select(NoticeTemplate).where(NoticeTemplate.active.is_(True)).order_by(NoticeTemplate.id)
    ).all()


# -- audience --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    """Who a notice goes to: registered volunteers in the region (within the operator's scope),
    narrowed by team, skills (any of) and service times (any of). Sign-ups for an activity come
    with the sign-up feature."""

    region: str | None = None
    team_id: int | None = None
    skills: tuple[str, ...] = ()
    service_times: tuple[str, ...] = ()
    # Those who signed up for / checked in at this activity (services.signups).
    activity_id: int | None = None
    activity_state: str = signups.SIGNED_UP_FOR

    def __post_init__(self) -> None:
        if self.region is not None and regions.get(self.region) is None:
            raise ValidationError("未知的地区。")
        if any(s not in SKILLS for s in self.skills):
            raise ValidationError("未知的专业领域。")
        if any(t not in SERVICE_TIMES for t in self.service_times):
            raise ValidationError("未知的服务时间。")
        if self.activity_state not in signups.AUDIENCE_STATES:
            raise ValidationError("未知的活动受众条件。")

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "team_id": self.team_id,
            "skills": list(self.skills),
            "service_times": list(self.service_times),
            "activity_id": self.activity_id,
            "activity_state": self.activity_state,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Audience:
        return cls(
            region=data.get("region") or None,
            team_id=int(data["team_id"]) if data.get("team_id") else None,
            skills=tuple(data.get("skills") or ()),
            service_times=tuple(data.get("service_times") or ()),
            activity_id=int(data["activity_id"]) if data.get("activity_id") else None,
            activity_state=data.get("activity_state") or signups.SIGNED_UP_FOR,
        )

    @classmethod
    def parse_pairs(cls, pairs: Iterable[str]) -> Audience:
        """CLI form: `all`, `region=620100`, `team=3`, `skill=科学普及`, `time=周末`,
        `signed_up=12` or `checked_in=12` (an activity's number)."""
        values: dict[str, Any] = {"skills": [], "service_times": []}
        for pair in pairs:
            if pair.strip() == "all":
                continue
            key, sep, value = pair.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not value:
                raise ValidationError(f"受众条件应为 key=value：{pair}")
            if key == "region":
                values["region"] = value
            elif key == "team":
                if not value.isdigit():
                    raise ValidationError("team= 后面是服务队编号（数字）。")
                values["team_id"] = int(value)
            elif key == "skill":
                values["skills"].append(value)
            elif key == "time":
                values["service_times"].append(value)
            elif key in signups.AUDIENCE_STATES:
                if not value.isdigit():
                    raise ValidationError(f"{key}= 后面是活动编号（数字）。")
                values["activity_id"], values["activity_state"] = int(value), key
            else:
                raise ValidationError(
                    f"未知的受众条件：{key}（可用 region、team、skill、time、signed_up、checked_in）"
                )
        return cls.from_json(values)

    def describe(self, scope: Scope, team_name: str | None = None) -> str:
        parts = [scope.narrow(self.region).label]
        if self.team_id:
            parts.append(f"服务队：{team_name or self.team_id}")
        if self.skills:
            parts.append("专业领域：" + "、".join(self.skills))
        if self.service_times:
            parts.append("服务时间：" + "、".join(self.service_times))
        if self.activity_id:
            parts.append(f"{signups.AUDIENCE_STATES[self.activity_state]}活动{self.activity_id}")
        return " · ".join(parts) + "的注册志愿者"


def json_array_contains(session: Session, column: Any, value: str) -> ColumnElement[bool]:
    """`value` is one of the strings in the JSON array `column`.

    MariaDB's JSON_CONTAINS compares the stored text as is, and SQLAlchemy stores non-ASCII as
    \\u escapes, so it would miss; JSON_SEARCH decodes. (The values come from fixed option lists:
    no LIKE wildcards in them.)"""
    if session.get_bind().dialect.name == "sqlite":
        items = func.json_each(column).table_valued("value")
        return exists(select(literal(1)).select_from(items).where(items.c.value == value))
    return func.json_search(column, "one", value).is_not(None)


def _can_receive(openid: Any) -> ColumnElement[bool]:
    """Not known to have unfollowed the account or refused its notices."""
    return ~exists(
        select(literal(1)).where(
            Follower.openid == openid,
            or_(Follower.subscribed.is_(False), Follower.refuses_notices.is_(True)),
        )
    )


def recipient_conditions(
    session: Session, scope: Scope, audience: Audience
) -> list[ColumnElement[bool]]:
    """WHERE conditions on Volunteer for everyone the notice goes to."""
    region = scope.narrow(audience.region)
    conditions: list[ColumnElement[bool]] = [
        Volunteer.status == ACTIVE,
        Volunteer.openid.is_not(None),
        region.where(Volunteer.prefecture_code, Volunteer.county_code),
        _can_receive(Volunteer.openid),
    ]
    if audience.team_id:
        conditions.append(
            exists(
                select(literal(1)).where(
                    Membership.volunteer_id == Volunteer.id,
                    Membership.team_id == audience.team_id,
                    Membership.status == MEMBERSHIP_JOINED,
                )
            )
        )
    for column, wanted in (
        (Volunteer.skills, audience.skills),
        (Volunteer.service_times, audience.service_times),
    ):
        if wanted:
            conditions.append(or_(*(json_array_contains(session, column, v) for v in wanted)))
    if audience.activity_id:
        conditions.append(signups.audience_condition(audience.activity_id, audience.activity_state))
    return conditions


def count_recipients(session: Session, scope: Scope, audience: Audience) -> int:
    conditions = recipient_conditions(session, scope, audience)
    return int(session.scalar(select(func.count(Volunteer.id)).where(*conditions)) or 0)


def teams_in(session: Session, scope: Scope) -> Sequence[Team]:
    return session.scalars(
        select(Team)
        .where(scope.where(Team.prefecture_code, Team.county_code), Team.status == "approved")
        .order_by(Team.name)
    ).all()


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
    team_name = None
    try:
        scope.narrow(audience.region)
        if audience.team_id:
            team = session.get(Team, audience.team_id)
            if team is None or not scope.allows(team.prefecture_code, team.county_code):
                raise ValidationError("只能选择本辖区内的服务队。")
            team_name = team.name
    except ValidationError as exc:
        errors["audience"] = exc.hint
    if activity_id is not None and session.get(Activity, activity_id) is None:
        errors["activity"] = "活动不存在。"
    if errors:
        raise DraftError(errors)
    return Draft(template, values, checked_url, audience, activity_id, team_name)


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
            value = activity.contact
        elif "类型" in label or "类别" in label:
            value = activity.type
        elif "组织" in label or "主办" in label or "单位" in label:
            value = team_name
        if value is not None:
            values[key] = clip(value, 20) if kind == "thing" else value
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
    """Store the notice as queued (the caller enqueues it after commit)."""
    notice = Notice(
        template_id=draft.template.id,
        activity_id=draft.activity_id,
        data=draft.data,
        url=draft.url,
        audience=draft.audience.to_json(),
        audience_text=draft.audience.describe(scope, draft.team_name)[:255],
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


# -- the run: preparing, progress, controls --------------------------------------------------


def rowcount(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def prepare(session: Session, notice_id: int) -> bool:
    """Build the recipient rows of a queued notice in one INSERT ... SELECT and mark it
    sending. Only one caller wins (the status update is the guard); False for the others."""
    now = utcnow()
    won = rowcount(
        session.execute(
            update(Notice)
            .where(Notice.id == notice_id, Notice.status == QUEUED)
            .values(status=SENDING, started_at=now, updated_at=now)
        )
    )
    if not won:
        return False
    notice = session.get(Notice, notice_id)
    assert notice is not None
    conditions = recipient_conditions(
        session, notice_scope(notice), Audience.from_json(notice.audience)
    )
    rows = select(
        literal(notice_id), Volunteer.openid, Volunteer.id, literal(R_QUEUED), literal(0)
    ).where(*conditions)
    session.execute(
        insert(NoticeRecipient).from_select(
            ["notice_id", "openid", "volunteer_id", "status", "attempts"], rows
        )
    )
    return True


@dataclass(frozen=True)
class Progress:
    status: str
    status_label: str
    total: int
    sent: int
    failed: int
    pending: int
    cancelled: int
    rate: float  # sends per second since the run started
    eta_seconds: int | None
    stop_reason: str | None

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.cancelled

    @property
    def percent(self) -> int:
        if self.total == 0:
            return 100 if self.status in (FINISHED, CANCELLED) else 0
        return min(100, int(self.done * 100 / self.total))

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "status_label": self.status_label,
            "total": self.total,
            "sent": self.sent,
            "failed": self.failed,
            "pending": self.pending,
            "cancelled": self.cancelled,
            "percent": self.percent,
            "rate": round(self.rate, 1),
            "eta_seconds": self.eta_seconds,
            "stop_reason": self.stop_reason,
        }


def status_counts(session: Session, notice_id: int) -> dict[str, int]:
    rows = session.execute(
        select(NoticeRecipient.status, func.count())
        .where(NoticeRecipient.notice_id == notice_id)
        .group_by(NoticeRecipient.status)
    ).all()
    return {status: int(count) for status, count in rows}


def progress(session: Session, notice: Notice) -> Progress:
    counts = status_counts(session, notice.id)
    sent, failed = counts.get(R_SENT, 0), counts.get(R_FAILED, 0)
    pending = sum(counts.get(s, 0) for s in (R_QUEUED, R_RETRY, R_SENDING))
    rate, eta = 0.0, None
    if notice.started_at is not None:
        end = notice.finished_at or utcnow()
        elapsed = max((end - notice.started_at).total_seconds(), 0.001)
        rate = (sent + failed) / elapsed
        if notice.status == SENDING and rate > 0:
            eta = int(pending / rate)
    return Progress(
        status=notice.status,
        status_label=notice.status_label,
        total=sum(counts.values()),
        sent=sent,
        failed=failed,
        pending=pending,
        cancelled=counts.get(R_CANCELLED, 0),
        rate=rate,
        eta_seconds=eta,
        stop_reason=notice.stop_reason,
    )


def breakdown(session: Session, notice_id: int) -> dict[str, dict[str, int]]:
    """Failures by errcode and deliveries by outcome, for the notice page."""
    errors = session.execute(
        select(NoticeRecipient.errcode, func.count())
        .where(NoticeRecipient.notice_id == notice_id, NoticeRecipient.status == R_FAILED)
        .group_by(NoticeRecipient.errcode)
    ).all()
    deliveries = session.execute(
        select(NoticeRecipient.delivery, func.count())
        .where(NoticeRecipient.notice_id == notice_id, NoticeRecipient.delivery.is_not(None))
        .group_by(NoticeRecipient.delivery)
    ).all()
    return {
        "errors": {str(code): int(n) for code, n in errors},
        "deliveries": {str(kind): int(n) for kind, n in deliveries},
    }


CONTROLS: dict[str, tuple[tuple[str, ...], str]] = {
    # action: (statuses it applies to, label)
    "pause": ((QUEUED, SENDING), "暂停"),
    "resume": ((PAUSED, STOPPED), "继续发送"),
    "cancel": ((QUEUED, SENDING, PAUSED, STOPPED), "取消发送"),
}


def control(
    session: Session,
    notice: Notice,
    action: str,
    actor: Actor | None,
    ip: str | None,
    *,
    actor_name: str | None = None,
) -> bool:
    """Pause, resume or cancel. Returns True when the notice must be (re)enqueued."""
    allowed, label = CONTROLS.get(action, ((), ""))
    if notice.status not in allowed:
        raise ValidationError(f"通知当前为「{notice.status_label}」，不能{label or action}。")
    before = notice.status
    now = utcnow()
    if action == "pause":
        notice.status = PAUSED
    elif action == "resume":
        notice.status = SENDING if notice.started_at is not None else QUEUED
        notice.stop_reason = None
    else:
        notice.status = CANCELLED
        notice.finished_at = now
        cancel_pending(session, notice.id)
    notice.updated_at = now
    audit(
        session,
        actor,
        f"notice_{action}",
        summary=f"{label}通知 #{notice.id}",
        target=notice,
        detail={"from": before, "to": notice.status},
        ip=ip,
        actor=actor_name,
    )
    return action == "resume"


def cancel_pending(session: Session, notice_id: int) -> None:
    """Rows not yet claimed by a worker will not be sent (claimed ones finish normally)."""
    session.execute(
        update(NoticeRecipient)
        .where(
            NoticeRecipient.notice_id == notice_id,
            NoticeRecipient.status.in_((R_QUEUED, R_RETRY)),
        )
        .values(status=R_CANCELLED)
    )


def in_progress_ids(session: Session) -> list[int]:
    return list(
        session.scalars(select(Notice.id).where(Notice.status.in_((QUEUED, SENDING)))).all()
    )


# -- delivery reports (TEMPLATESENDJOBFINISH) -----------------------------------------------

DELIVERY_BY_STATUS = {
    "success": DELIVERED,
    "failed:user block": USER_BLOCK,
    "failed: system failed": SYSTEM_FAILED,
}
# A report can arrive before the worker has written the msgid: it waits this long in Redis.
EARLY_REPORT_SECONDS = 3600


def delivery_of(status: str) -> str:
    normalised = status.strip().lower()
    if normalised in DELIVERY_BY_STATUS:
        return DELIVERY_BY_STATUS[normalised]
    if "block" in normalised:
        return USER_BLOCK
    return DELIVERED if normalised == "success" else SYSTEM_FAILED


def apply_delivery(session: Session, msgid: int, delivery: str) -> int:
    return rowcount(
        session.execute(
            update(NoticeRecipient)
            .where(NoticeRecipient.msgid == msgid)
            .values(delivery=delivery, delivered_at=utcnow())
        )
    )


def record_delivery(
    session: Session, client: redis.Redis, keys: Keys, msgid: int, status: str
) -> bool:
    """Update the row with this msgid; keep the report in Redis if the row has no msgid yet
    (the worker applies it when it records the send). True when a row was updated."""
    delivery = delivery_of(status)
    if apply_delivery(session, msgid, delivery):
        return True
    client.set(keys.notice_delivery(msgid), delivery, ex=EARLY_REPORT_SECONDS)
    return False


def apply_early_deliveries(
    session: Session, client: redis.Redis, keys: Keys, msgids: Sequence[int]
) -> None:
    if not msgids:
        return
    names = [keys.notice_delivery(m) for m in msgids]
    found = [(m, v) for m, v in zip(msgids, client.mget(names), strict=True) if v is not None]
    for msgid, value in found:
        apply_delivery(session, msgid, value.decode() if isinstance(value, bytes) else str(value))
    if found:
        client.delete(*(keys.notice_delivery(m) for m, _ in found))
