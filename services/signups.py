"""Sign-ups: 报名, 候补 (the waiting list) and 取消报名.

Every change to the sign-ups of an activity first takes the activity's row lock
(`SELECT ... FOR UPDATE` on its primary key), so counting the places taken and numbering the
waiting list happen one request at a time: the quota holds, and the waiting list is in the order
requests got the lock. The caller owns the transaction (`with db.Session.begin() as session:`)
and `sign_up` / `cancel` must be its first statements: under MariaDB's REPEATABLE READ, plain
reads see the snapshot taken at the transaction's first plain read, so taking the lock first
makes every read after it see all sign-ups committed before (and nobody else writes this
activity's sign-ups while we hold the lock). The reads under the lock are deliberately plain:
a locking range read (`count(*) ... FOR UPDATE`) takes gap locks that reach into the neighbouring
activity's index range, and two sign-ups for two activities then deadlock on each other's
inserts (seen with bench/signup.py). Telling people (a promotion, say) happens after the commit,
by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, exists, func, literal, select
from sqlalchemy.orm import Session

from domain import clock, regions
from domain.contact import mask_mobile
from domain.errors import ValidationError
from models.activity import (
    BY_VOLUNTEER,
    CANCELLED,
    FULL,
    LIVE_SIGNUP_STATUSES,
    OPEN_STATUSES,
    RECRUITING,
    SIGNED_UP,
    SIGNUP_CANCELLED,
    WAITLISTED,
    Activity,
    Signup,
)
from models.service import Attendance
from models.volunteer import ACTIVE, Volunteer


class SignupRefused(ValidationError):
    """The sign-up cannot be taken; `hint` says why, in Chinese, for the volunteer."""


class ActivityFull(SignupRefused):
    """No place is left; the volunteer may join the waiting list instead (`waitlist=True`)."""


@dataclass(frozen=True)
class SignupResult:
    signup: Signup
    # False when the volunteer already had this live sign-up (asking twice changes nothing).
    created: bool
    # 1-based place on the waiting list for a WAITLISTED sign-up.
    waiting_rank: int | None = None


@dataclass(frozen=True)
class CancelResult:
    signup: Signup
    # The sign-up moved from the waiting list into the freed place, to be told.
    promoted: Signup | None = None
    # The cancelled sign-up was on the waiting list (no place was freed).
    was_waiting: bool = False


def lock_activity(session: Session, activity_id: int) -> Activity | None:
    return session.scalar(select(Activity).where(Activity.id == activity_id).with_for_update())


def find_live(session: Session, activity_id: int, volunteer_id: int) -> Signup | None:
    """The volunteer's live sign-up, for display (a plain read)."""
    return session.scalar(
        select(Signup).where(
            Signup.activity_id == activity_id,
            Signup.volunteer_id == volunteer_id,
            Signup.status.in_(LIVE_SIGNUP_STATUSES),
        )
    )


def live_signup(session: Session, activity_id: int, volunteer_id: int) -> Signup | None:
    """The same as a locking read (the current row even in an older snapshot); for callers who
    read before taking the activity's lock. Sign-up and cancel use `find_live` after the lock."""
    return session.scalar(
        select(Signup)
        .where(
            Signup.activity_id == activity_id,
            Signup.volunteer_id == volunteer_id,
            Signup.status.in_(LIVE_SIGNUP_STATUSES),
        )
        .with_for_update()
    )


def signed_up_count(session: Session, activity_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Signup)
            .where(Signup.activity_id == activity_id, Signup.status == SIGNED_UP)
        )
        or 0
    )


def waiting_count(session: Session, activity_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Signup)
            .where(Signup.activity_id == activity_id, Signup.status == WAITLISTED)
        )
        or 0
    )


def waiting_rank(session: Session, signup: Signup) -> int | None:
    """1 for the first on the waiting list, and so on (positions keep gaps after cancels)."""
    if signup.status != WAITLISTED or signup.waitlist_position is None:
        return None
    query = (
        select(func.count())
        .select_from(Signup)
        .where(
            Signup.activity_id == signup.activity_id,
            Signup.status == WAITLISTED,
            Signup.waitlist_position < signup.waitlist_position,
        )
    )
    ahead = session.scalar(query)
    return (ahead or 0) + 1


def places_taken(session: Session, activity_id: int) -> int:
    """Signed up (not waiting), for display (a plain read)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Signup)
            .where(Signup.activity_id == activity_id, Signup.status == SIGNED_UP)
        )
        or 0
    )


def closed_reason(activity: Activity, now: datetime) -> str | None:
    """Why nobody may sign up now (None: sign-up is open)."""
    if activity.status == CANCELLED:
        return "该活动已取消。"
    if activity.status not in OPEN_STATUSES or now >= activity.starts_at:
        return "该活动已开始或已结束，不能再报名。"
    if activity.signup_deadline is not None and now >= activity.signup_deadline:
        return f"该活动报名已于{clock.show(activity.signup_deadline)}截止。"
    return None


def refusal(activity: Activity, volunteer: Volunteer, now: datetime) -> str | None:
    """Why this volunteer may not sign up for this activity now (None: they may)."""
    if volunteer.status != ACTIVE:
        return "请先点击「志愿者 → 注册」成为科技志愿者，再报名参加活动。"
    closed = closed_reason(activity, now)
    if closed:
        return closed
    skills = activity.required_skills or []
    if skills and not set(skills) & set(volunteer.skills or []):
        return (
            f"该活动要求具备以下专业领域之一：{'、'.join(skills)}。"
            "您的信息中没有这些领域，可在「志愿者 → 我的信息」中修改。"
        )
    region = activity.required_region_code
    if region and region not in (volunteer.prefecture_code, volunteer.county_code):
        return (
            f"该活动只招募{regions.label(region)}的志愿者，"
            "您登记的所在地区不符（可在「志愿者 → 我的信息」中修改）。"
        )
    return None


def sign_up(
    session: Session,
    activity_id: int,
    volunteer_id: int,
    *,
    waitlist: bool = False,
    now: datetime | None = None,
) -> SignupResult:
    """Take a place, or a place on the waiting list when `waitlist` is set and none is left.
    The first statement of its transaction (see the module's note).

    Raises SignupRefused with the reason (ActivityFull when full and `waitlist` is not set).
    """
    now = now or clock.utcnow()
    activity = lock_activity(session, activity_id)
    if activity is None:
        raise SignupRefused(f"没有找到编号为 {activity_id} 的活动。")
    volunteer = session.get(Volunteer, volunteer_id)
    if volunteer is None:
        raise SignupRefused("请先点击「志愿者 → 注册」成为科技志愿者，再报名参加活动。")
    existing = find_live(session, activity.id, volunteer.id)
    if existing is not None:
        return SignupResult(existing, created=False, waiting_rank=waiting_rank(session, existing))
    reason = refusal(activity, volunteer, now)
    if reason:
        raise SignupRefused(reason)
    taken = signed_up_count(session, activity.id)
    if activity.capacity is None or taken < activity.capacity:
        signup = Signup(activity_id=activity.id, volunteer_id=volunteer.id, status=SIGNED_UP)
        signup.created_at = now
        session.add(signup)
        session.flush()
        update_fullness(activity, taken + 1)
        return SignupResult(signup, created=True)
    if not waitlist:
        raise ActivityFull(
            f"「{activity.title}」的{activity.capacity}个名额已报满。"
            f"回复「候补 {activity.id}」加入候补名单：有人取消时，按候补顺序依次递补，并通知您。"
        )
    signup = Signup(
        activity_id=activity.id,
        volunteer_id=volunteer.id,
        status=WAITLISTED,
        waitlist_position=next_waitlist_position(session, activity.id),
    )
    signup.created_at = now
    session.add(signup)
    session.flush()
    update_fullness(activity, taken)
    return SignupResult(signup, created=True, waiting_rank=waiting_rank(session, signup))


def next_waitlist_position(session: Session, activity_id: int) -> int:
    last = session.scalar(
        select(func.max(Signup.waitlist_position)).where(Signup.activity_id == activity_id)
    )
    return (last or 0) + 1


def update_fullness(activity: Activity, taken: int) -> None:
    """招募中 ⇄ 已满 follows the places taken (only while recruiting)."""
    if activity.status not in OPEN_STATUSES:
        return
    full = activity.capacity is not None and taken >= activity.capacity
    activity.status = FULL if full else RECRUITING


def cancel(
    session: Session,
    activity_id: int,
    volunteer_id: int,
    *,
    by: str = BY_VOLUNTEER,
    now: datetime | None = None,
) -> CancelResult:
    """Cancel the volunteer's live sign-up; a freed place goes to the first on the waiting
    list (returned as `promoted`). Raises SignupRefused when there is nothing to cancel or the
    activity has started. The first statement of its transaction (see the module's note)."""
    now = now or clock.utcnow()
    activity = lock_activity(session, activity_id)
    if activity is None:
        raise SignupRefused(f"没有找到编号为 {activity_id} 的活动。")
    signup = find_live(session, activity.id, volunteer_id)
    if signup is None:
        raise SignupRefused(f"您没有报名活动 {activity.id}「{activity.title}」。")
    if activity.status in OPEN_STATUSES and now >= activity.starts_at:
        raise SignupRefused("活动已开始，不能再取消报名；如有变动请联系组织方。")
    freed_place = signup.status == SIGNED_UP
    mark_cancelled(signup, by=by, now=now)
    session.flush()
    promoted = promote_first_waiting(session, activity, now) if freed_place else None
    update_fullness(activity, signed_up_count(session, activity.id))
    return CancelResult(signup, promoted, was_waiting=not freed_place)


def mark_cancelled(signup: Signup, *, by: str, now: datetime) -> None:
    signup.status = SIGNUP_CANCELLED
    signup.waitlist_position = None
    signup.cancelled_at = now
    signup.cancelled_by = by


def promote_first_waiting(session: Session, activity: Activity, now: datetime) -> Signup | None:
    """Move the first on the waiting list into a free place (the activity is locked)."""
    if activity.status not in OPEN_STATUSES or now >= activity.starts_at:
        return None
    if activity.capacity is not None and signed_up_count(session, activity.id) >= activity.capacity:
        return None
    first = session.scalar(
        select(Signup)
        .where(Signup.activity_id == activity.id, Signup.status == WAITLISTED)
        .order_by(Signup.waitlist_position)
        .limit(1)
    )
    if first is None:
        return None
    first.status = SIGNED_UP
    first.waitlist_position = None
    first.promoted_at = now
    session.flush()
    return first


def of_activity(
    session: Session, activity_id: int, statuses: Sequence[str] = LIVE_SIGNUP_STATUSES
) -> Sequence[Signup]:
    """The activity's sign-ups in these statuses: signed up in sign-up order, then the waiting
    list in its order."""
    return session.scalars(
        select(Signup)
        .where(Signup.activity_id == activity_id, Signup.status.in_(tuple(statuses)))
        .order_by(Signup.waitlist_position.is_not(None), Signup.waitlist_position, Signup.id)
    ).all()


def of_volunteer(
    session: Session, volunteer_id: int, *, limit: int, offset: int = 0, now: datetime | None = None
) -> Sequence[tuple[Signup, Activity]]:
    """The volunteer's sign-ups with their activities: activities not yet over first (soonest
    first), then past ones (latest first). Only the latest sign-up per activity."""
    now = now or clock.utcnow()
    latest = (
        select(func.max(Signup.id))
        .where(Signup.volunteer_id == volunteer_id)
        .group_by(Signup.activity_id)
        .scalar_subquery()
    )
    over = Activity.ends_at < now
    query = (
        select(Signup, Activity)
        .join(Activity, Activity.id == Signup.activity_id)
        .where(Signup.id.in_(latest))
        .order_by(over, case((over, None), else_=Activity.starts_at), Activity.starts_at.desc())
        .offset(offset)
        .limit(limit)
    )
    return [(signup, activity) for signup, activity in session.execute(query).all()]


def volunteers_of_activity(
    session: Session, activity_id: int, statuses: Sequence[str] = (SIGNED_UP,)
) -> Sequence[Volunteer]:
    return session.scalars(
        select(Volunteer)
        .join(Signup, Signup.volunteer_id == Volunteer.id)
        .where(Signup.activity_id == activity_id, Signup.status.in_(tuple(statuses)))
        .order_by(Signup.id)
    ).all()


@dataclass(frozen=True)
class RosterLine:
    """One sign-up as the organiser sees it (the phone masked)."""

    volunteer_no: str
    name: str
    phone: str
    status: str
    created_at: datetime


def roster(session: Session, activity_id: int) -> list[RosterLine]:
    """Signed up first (in sign-up order), then the waiting list in its order."""
    rows = session.execute(
        select(Signup, Volunteer)
        .join(Volunteer, Volunteer.id == Signup.volunteer_id)
        .where(Signup.activity_id == activity_id, Signup.status.in_(LIVE_SIGNUP_STATUSES))
        .order_by(Signup.waitlist_position.is_not(None), Signup.waitlist_position, Signup.id)
    ).all()
    lines = []
    for signup, volunteer in rows:
        status = signup.status_label
        if signup.status == WAITLISTED:
            status = "候补"
        lines.append(
            RosterLine(
                volunteer_no=volunteer.volunteer_no,
                name=volunteer.name or "（已注销）",
                phone=mask_mobile(volunteer.phone) if volunteer.phone else "",
                status=status,
                created_at=signup.created_at,
            )
        )
    return lines


# -- notice audiences ------------------------------------------------------------------------

SIGNED_UP_FOR = "signed_up"
CHECKED_IN_AT = "checked_in"
AUDIENCE_STATES: dict[str, str] = {SIGNED_UP_FOR: "报名了", CHECKED_IN_AT: "已签到"}


def audience_condition(activity_id: int, state: str) -> ColumnElement[bool]:
    """A condition on Volunteer for a notice audience: signed up for (not waiting) or checked
    in at the activity (an attendance row, written by the check-in)."""
    if state == CHECKED_IN_AT:
        return exists(
            select(literal(1)).where(
                Attendance.volunteer_id == Volunteer.id, Attendance.activity_id == activity_id
            )
        )
    return exists(
        select(literal(1)).where(
            Signup.volunteer_id == Volunteer.id,
            Signup.activity_id == activity_id,
            Signup.status == SIGNED_UP,
        )
    )
