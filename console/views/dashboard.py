"""概览: counts for the operator's region."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from console.blueprint import bp, services, user
from domain.clock import utcnow
from models.activity import OPEN_STATUSES, Activity
from models.notice import QUEUED, SENDING, Notice
from models.report import VolunteerCount
from models.team import STATUS_APPROVED, STATUS_PENDING, Team


@bp.get("/")
def dashboard() -> ResponseReturnValue:
    scope = user().scope
    with services().db.ReadSession() as session:  # the read replica, when there is one

        def count(model: type, *conditions: object) -> int:
            query = select(func.count()).select_from(model).where(*conditions)  # type: ignore[arg-type]
            return int(session.scalar(query) or 0)

        team_scope = scope.where(Team.prefecture_code, Team.county_code)
        stats = [
            (
                "注册志愿者",
                int(
                    session.scalar(  # the rollup's all-time rows (models.report): exact
                        select(func.sum(VolunteerCount.n)).where(
                            VolunteerCount.grain == "a",
                            VolunteerCount.facet == "all",
                            scope.where(VolunteerCount.prefecture_code, VolunteerCount.county_code),
                        )
                    )
                    or 0
                ),
                "console.volunteers",
            ),
            ("服务队", count(Team, Team.status == STATUS_APPROVED, team_scope), "console.teams"),
            (
                "待审核服务队",
                count(Team, Team.status == STATUS_PENDING, team_scope),
                "console.teams",
            ),
            (
                "近期活动",
                count(
                    Activity,
                    Activity.status.in_(OPEN_STATUSES),
                    Activity.ends_at >= utcnow(),
                    scope.where(Activity.prefecture_code, Activity.county_code),
                ),
                "console.activities",
            ),
            (
                "通知",
                count(Notice, scope.where(Notice.prefecture_code, Notice.county_code)),
                "console.notices",
            ),
            (
                "发送中的通知",
                count(
                    Notice,
                    Notice.status.in_((QUEUED, SENDING)),
                    scope.where(Notice.prefecture_code, Notice.county_code),
                ),
                "console.notices",
            ),
        ]
    return render_template("console/dashboard.html", stats=stats)
