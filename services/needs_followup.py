"""After the claim: a need is 已完成 once its activity ends, and its poster is asked for feedback
(满意度 1–5 and a comment); a claim whose activity was cancelled opens the need again; a need
published and unclaimed for 14 days is flagged once to its region's operators.

`sweep` does all three and is what the worker job runs (worker/needs_jobs.py). Each change is a
conditional UPDATE on the need's row (CLAIMED → DONE, the flag time still empty...), so two
sweeps at once, or a sweep run twice, tell nobody twice. Messages go after the commit, as a
customer-service message inside the 48-hour window, else the need-progress template.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from config import Settings
from domain import clock
from domain.errors import ValidationError
from domain.text import clip
from infra.db import Database
from models.activity import CANCELLED, FINISHED, FULL, ONGOING, RECRUITING, Activity
from models.need import CLAIMED, DONE, PUBLISHED, Need
from models.operator import ROLE_PROVINCE, Operator
from services import activity_messages, needs, needs_notify
from services.activity_messages import Template
from services.operators import audit, scope_of
from wechat.client import WeChatAPI

log = logging.getLogger(__name__)

__all__ = [
    "SATISFACTION_LABELS",
    "Swept",
    "awaiting_feedback",
    "record_feedback",
    "sweep",
]

SATISFACTION_LABELS: tuple[str, ...] = ("很不满意", "不满意", "一般", "满意", "非常满意")
COMMENT_MAX = 500
WORKER = "worker"


@dataclass
class Swept:
    """What one sweep did: need numbers finished, opened again, and flagged."""

    done: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"done {len(self.done)}, reopened {len(self.reopened)}, flagged {len(self.flagged)}"


# -- finding what is due ---------------------------------------------------------------------


def _claims_whose_activity(session: Session, condition: ColumnElement[bool]) -> list[int]:
    return list(
        session.scalars(
            select(Need.id)
            .join(Activity, Activity.id == Need.activity_id)
            .where(Need.status == CLAIMED, condition)
            .order_by(Need.id)
        )
    )


def ended_claims(session: Session, now: datetime) -> list[int]:
    """Claimed needs whose activity is over: marked 已结束, or published and past its end."""
    return _claims_whose_activity(
        session,
        or_(
            Activity.status == FINISHED,
            Activity.status.in_((RECRUITING, FULL, ONGOING)) & (Activity.ends_at <= now),
        ),
    )


def cancelled_claims(session: Session) -> list[int]:
    return _claims_whose_activity(session, Activity.status == CANCELLED)


def stale_unflagged(session: Session, now: datetime) -> list[int]:
    cutoff = now - timedelta(days=needs.STALE_DAYS)
    return list(
        session.scalars(
            select(Need.id)
            .where(
                Need.status == PUBLISHED,
                Need.published_at <= cutoff,
                Need.stale_flagged_at.is_(None),
            )
            .order_by(Need.id)
        )
    )


def _changed(session: Session, need_id: int, current: str, **values: object) -> Need | None:
    """Apply `values` to the need if it is still in status `current`; the need, or None if another
    sweep (or a person) changed it first."""
    result = session.execute(
        update(Need)
        .where(Need.id == need_id, Need.status == current, *_still_unflagged(values))
        .values(updated_at=clock.utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    return session.get(Need, need_id, populate_existing=True)


def _still_unflagged(values: dict[str, object]) -> list[ColumnElement[bool]]:
    return [Need.stale_flagged_at.is_(None)] if "stale_flagged_at" in values else []


# -- the messages ----------------------------------------------------------------------------


def _template(settings: Settings, need: Need, progress: str, note: str, url: str) -> Template:
    return Template(
        template_id=settings.need_progress_template_id,
        data={
            "thing1": clip(need.requester_name, 20),
            "character_string2": need.need_no,
            "phrase3": progress,
            "thing4": clip(note, 20),
        },
        client_msg_id=f"need-{need.need_no}-{progress}",
        url=url,
    )


def feedback_request(need: Need, activity_title: str, team_name: str) -> str:
    return (
        f"您提交的需求 {need.need_no}（{need.requester_name}）的对接活动「{activity_title}」"
        f"已结束，需求已完成。\n欢迎为「{team_name}」的服务评价：回复「评价」，"
        "为满意度打分（1-5分）并留下意见建议。"
    )


def reopened_text(need: Need, team_name: str) -> str:
    return (
        f"您提交的需求 {need.need_no}（{need.requester_name}）的对接活动已被「{team_name}」取消，"
        "需求已重新开放，其他科技志愿服务队可以认领，认领后会再通知您。"
    )


def stale_text(need: Need) -> str:
    return (
        f"需求 {need.need_no}（{need.requester_name}，{needs.region_label(need)}，{need.field}）"
        f"发布已满{needs.STALE_DAYS}天仍无队伍认领，请在管理后台「需求」中查看匹配建议并联系服务队。"
    )


def operators_to_tell(session: Session, need: Need) -> Sequence[Operator]:
    """The region's operators bound to a WeChat openid: those of the need's 县区 and 市州, or
    the province's when the region has none."""
    bound = session.scalars(
        select(Operator)
        .where(Operator.active.is_(True), Operator.openid.is_not(None))
        .order_by(Operator.id)
    ).all()
    regional = [
        op
        for op in bound
        if op.role != ROLE_PROVINCE and scope_of(op).allows(need.prefecture_code, need.county_code)
    ]
    return regional or [op for op in bound if op.role == ROLE_PROVINCE]


# -- the sweep -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Message:
    openid: str
    text: str
    template: Template


def _finish(session: Session, need_id: int, now: datetime, settings: Settings) -> _Message | None:
    need = _changed(session, need_id, CLAIMED, status=DONE, done_at=now)
    if need is None:
        return None
    activity = session.get(Activity, need.activity_id)
    title = activity.title if activity else ""
    team = needs.claimed_team_name(session, need) or "科技志愿服务队"
    url = f"{settings.public_base_url}{needs.public_path(need.need_no)}"
    return _Message(
        need.poster_openid,
        feedback_request(need, title, team),
        _template(settings, need, "已完成", "回复评价为本次服务打分", url),
    )


def _reopen(session: Session, need_id: int, settings: Settings) -> _Message | None:
    with session.no_autoflush:
        need = session.get(Need, need_id)
        team = needs.claimed_team_name(session, need) if need else None
    need = _changed(
        session,
        need_id,
        CLAIMED,
        status=PUBLISHED,
        claimed_team_id=None,
        activity_id=None,
        claimed_at=None,
    )
    if need is None:
        return None
    url = f"{settings.public_base_url}{needs.public_path(need.need_no)}"
    return _Message(
        need.poster_openid,
        reopened_text(need, team or "认领的队伍"),
        _template(settings, need, "待认领", "活动已取消，需求重新开放认领", url),
    )


def _flag(
    session: Session, need_id: int, now: datetime, settings: Settings
) -> list[_Message] | None:
    need = _changed(session, need_id, PUBLISHED, stale_flagged_at=now)
    if need is None:
        return None
    told = operators_to_tell(session, need)
    audit(
        session,
        None,
        "need_stale_flag",
        summary=f"需求 {need.need_no} 发布满{needs.STALE_DAYS}天无人认领，已提醒 {len(told)} 位管理员",
        target=need,
        detail={"operators": [op.username for op in told]},
        actor=WORKER,
    )
    url = f"{settings.public_base_url}/console/needs"
    template = _template(settings, need, "超期未认领", "请跟进匹配和认领", url)
    return [_Message(op.openid or "", stale_text(need), template) for op in told]


def sweep(api: WeChatAPI, db: Database, settings: Settings, now: datetime | None = None) -> Swept:
    """Finish the needs whose activity is over (asking for feedback), open again those whose
    activity was cancelled, flag the ones unclaimed for 14 days. Each need in its own short
    transaction; its messages go after that commits."""
    now = now or clock.utcnow()
    swept = Swept()
    with db.Session() as session:
        ended = ended_claims(session, now)
        cancelled = cancelled_claims(session)
        stale = stale_unflagged(session, now)
    for need_id in ended:
        _run(db, api, need_id, swept.done, lambda s, i: _listed(_finish(s, i, now, settings)))
    for need_id in cancelled:
        _run(db, api, need_id, swept.reopened, lambda s, i: _listed(_reopen(s, i, settings)))
    for need_id in stale:
        _run(db, api, need_id, swept.flagged, lambda s, i: _flag(s, i, now, settings))
    log.info("needs sweep: %s", swept)
    return swept


Step = Callable[[Session, int], "list[_Message] | None"]


def _listed(message: _Message | None) -> list[_Message] | None:
    return None if message is None else [message]


def _run(db: Database, api: WeChatAPI, need_id: int, into: list[str], step: Step) -> None:
    """One need: the change in its own transaction, then its messages."""
    with db.Session.begin() as session:
        messages = step(session, need_id)
        need_no = session.scalar(select(Need.need_no).where(Need.id == need_id))
    if messages is None:
        return
    into.append(need_no or str(need_id))
    with db.Session() as session:
        for message in messages:
            how = activity_messages.tell(
                api, session, message.openid, message.text, message.template
            )
            log.info("need %s: %s told %s", need_no, message.template.data["phrase3"], how)


def tell_claimed(api: WeChatAPI, db: Database, settings: Settings, need_id: int) -> str:
    """Tell the poster which team took their need on (after the claim is committed)."""
    with db.Session() as session:
        need = session.get(Need, need_id)
        if need is None:
            return activity_messages.FAILED
        team = needs.claimed_team_name(session, need)
        text = needs_notify.status_text(need, team_name=team)
        url = f"{settings.public_base_url}{needs.public_path(need.need_no)}"
        template = _template(settings, need, "已认领", f"由{team or '服务队'}认领", url)
        return activity_messages.tell(api, session, need.poster_openid, text, template)


# -- feedback --------------------------------------------------------------------------------


def awaiting_feedback(session: Session, openid: str) -> Sequence[Need]:
    """The poster's completed needs not yet rated, newest first."""
    return session.scalars(
        select(Need)
        .where(Need.poster_openid == openid, Need.status == DONE, Need.feedback_at.is_(None))
        .order_by(Need.done_at.desc(), Need.id.desc())
    ).all()


def feedback_refusal(need: Need | None, openid: str) -> str | None:
    """Why this person cannot rate this need (now), or None."""
    if need is None or need.poster_openid != openid:
        return "没有找到您提交的这个需求。回复「我的需求」查看您提交的需求。"
    if need.status != DONE:
        return f"需求 {need.need_no} {need.status_label}，服务完成后才能评价。"
    if need.feedback_at is not None:
        return f"需求 {need.need_no} 已经评价过了（{need.satisfaction}分），感谢您的反馈！"
    return None


def record_feedback(
    session: Session, need_id: int, openid: str, satisfaction: int, comment: str | None
) -> Need:
    """Keep the poster's rating with the need (once). ValidationError with a hint otherwise."""
    need = session.scalar(
        select(Need)
        .where(Need.id == need_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    why = feedback_refusal(need, openid)
    if why is not None or need is None:
        raise ValidationError(why or "")
    if not 1 <= satisfaction <= len(SATISFACTION_LABELS):
        raise ValidationError("满意度请在 1-5 分之间选择。")
    need.satisfaction = satisfaction
    need.feedback = (comment or "").strip()[:COMMENT_MAX] or None
    need.feedback_at = clock.utcnow()
    return need
