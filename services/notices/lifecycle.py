"""A notice's status, from queued to finished: building the recipient rows, pausing, resuming,
cancelling, stopping on a template error, finishing; and its progress."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import exists, func, select, update
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.orm import Session

from domain.clock import BEIJING_TZ, beijing_date, from_beijing, show, utcnow
from domain.errors import ValidationError
from models.notice import (
    CANCELLED,
    FINISHED,
    PAUSED,
    PENDING_STATUSES,
    QUEUED,
    R_CANCELLED,
    R_FAILED,
    R_QUEUED,
    R_RETRY,
    R_SENDING,
    R_SENT,
    SENDING,
    STOPPED,
    Notice,
    NoticeRecipient,
)
from services.notices.audience import Audience, recipient_conditions
from services.notices.compose import notice_scope
from services.notices.recipients import insert_recipients
from services.operators import Actor, audit

log = logging.getLogger("services.notices")

STOP_REASONS = {
    40037: "模板ID无效（40037）：请在「模板」页核对模板ID，然后继续发送。",
    47003: "模板数据不符合要求（47003）：请取消本通知，修改内容后重新发送。",
}
QUOTA_ERRCODE = 45009
INVALID_TEMPLATE_ERRCODE = 40037

# -- the run: preparing, progress, controls --------------------------------------------------


def rowcount(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def prepare(session: Session, notice_id: int) -> bool:
    """Build the recipient rows of a queued notice (INSERT ... SELECT in keyset batches, see
    services.notices.recipients) and mark it sending. Only one caller wins (the status update
    is the guard); False for the others."""
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
    insert_recipients(session, notice_id, conditions)
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
        """Recipients the run has dealt with (sent or failed); cancelled ones were not."""
        return self.sent + self.failed

    def _share(self, count: int) -> int:
        return min(100, int(count * 100 / self.total)) if self.total else 0

    @property
    def percent(self) -> int:
        if self.total == 0:
            return 100 if self.status == FINISHED else 0
        return self._share(self.done)

    @property
    def segments(self) -> dict[str, int]:
        """The bar's parts in percent: sent (green), failed (red), cancelled (grey)."""
        if self.total == 0:
            return {"sent": self.percent, "failed": 0, "cancelled": 0}
        return {
            "sent": self._share(self.sent),
            "failed": self._share(self.failed),
            "cancelled": self._share(self.cancelled),
        }

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
            "segments": self.segments,
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
        stop_reason=notice.stop_reason if notice.status in (STOPPED, PAUSED) else None,
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
        notice.stop_reason, notice.resume_at = None, None
    else:
        notice.status = CANCELLED
        notice.finished_at = now
        notice.stop_reason, notice.resume_at = None, None
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


# -- what the workers report -----------------------------------------------------------------


def stop(session: Session, notice_id: int, errcode: int) -> None:
    """WeChat refused the template or its data: nothing more can be sent until someone acts."""
    reason = STOP_REASONS.get(errcode, f"微信拒绝发送（{errcode}）")
    session.execute(
        update(Notice)
        .where(Notice.id == notice_id, Notice.status == SENDING)
        .values(status=STOPPED, stop_reason=reason, updated_at=utcnow())
    )
    log.warning("notice %s stopped: errcode %s", notice_id, errcode)


def next_beijing_midnight(now: datetime | None = None) -> datetime:
    """The next 00:00 in Beijing (when WeChat's daily quotas start again), as stored UTC."""
    tomorrow = beijing_date(now) + timedelta(days=1)
    return from_beijing(datetime.combine(tomorrow, time(0, 0), tzinfo=BEIJING_TZ))


# WeChat's day may start a little late by our clock: resume a few minutes after midnight.
QUOTA_RESUME_MARGIN = timedelta(minutes=5)


def pause_for_quota(session: Session, notice_id: int) -> None:
    """45009: the day's template quota is used up. Pause, say why, resume after midnight."""
    resume_at = next_beijing_midnight() + QUOTA_RESUME_MARGIN
    reason = (
        f"今日模板消息额度已用完（{QUOTA_ERRCODE}）：将于北京时间 {show(resume_at)} "
        "自动继续发送，也可在额度恢复后手动「继续发送」。"
    )
    session.execute(
        update(Notice)
        .where(Notice.id == notice_id, Notice.status == SENDING)
        .values(status=PAUSED, stop_reason=reason, resume_at=resume_at, updated_at=utcnow())
    )
    log.warning("notice %s paused: daily quota used up, resuming at %s", notice_id, resume_at)


def resume_at(session: Session, notice_id: int) -> datetime | None:
    """When a notice paused for the quota resumes by itself (None: not paused for it)."""
    return session.scalar(
        select(Notice.resume_at).where(Notice.id == notice_id, Notice.status == PAUSED)
    )


def resume_due(session: Session, now: datetime | None = None) -> list[int]:
    """Resume every notice paused for the quota whose resume time has come; their ids (the
    caller queues them). The guarded update lets one caller win each notice."""
    moment = now or utcnow()
    due = session.scalars(
        select(Notice.id).where(
            Notice.status == PAUSED, Notice.resume_at.is_not(None), Notice.resume_at <= moment
        )
    ).all()
    resumed = []
    for notice_id in due:
        won = rowcount(
            session.execute(
                update(Notice)
                .where(Notice.id == notice_id, Notice.status == PAUSED, Notice.resume_at <= moment)
                .values(status=SENDING, stop_reason=None, resume_at=None, updated_at=utcnow())
            )
        )
        if won:
            resumed.append(notice_id)
    return resumed


def finish(session: Session, notice_id: int) -> None:
    """Mark the notice finished if no row is pending any more."""
    now = utcnow()
    pending = exists().where(
        NoticeRecipient.notice_id == notice_id,
        NoticeRecipient.status.in_(PENDING_STATUSES),
    )
    session.execute(
        update(Notice)
        .where(Notice.id == notice_id, Notice.status == SENDING, ~pending)
        .values(status=FINISHED, finished_at=now, updated_at=now)
    )


def status_of(session: Session, notice_id: int) -> str:
    return session.scalar(select(Notice.status).where(Notice.id == notice_id)) or ""
