"""导出: every console list as .xlsx with the page's filters, within the operator's region.

The file is written row by row (services.reports_export) to a temporary file and streamed to
the browser in chunks, so a 100,000-row export keeps memory flat. Personal data is masked;
`full=1` (province operators only) exports ID numbers and phones in full. Every export is
written to the audit log with its row count.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from flask import Response, abort, request
from sqlalchemy.orm import Session

from console.blueprint import bp, client_ip, services, user
from domain import clock
from domain.errors import ValidationError
from services import activities, notices, operators
from services.needs_list import NeedFilters
from services.reports_activities import (
    ActivityFilters,
    HoursFilters,
    activity_listing,
    hours_listing,
    roster_listing,
)
from services.reports_export import XLSX_MIME, Listing, export_to_temp
from services.reports_lists import (
    VolunteerFilters,
    recipient_listing,
    team_listing,
    volunteer_conditions,
    volunteer_listing,
)
from services.reports_needs import need_listing


def wants_full() -> bool:
    """`full=1` asks for personal data in full: a province-only right."""
    full = request.args.get("full") == "1"
    if full and not user().is_province:
        abort(403)
    return full


def attachment(filename: str) -> str:
    ascii_name = filename.encode("ascii", "ignore").decode() or "export.xlsx"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def send_export(
    label: str, build: Callable[[Session], Listing], *, full: bool, filters: dict[str, str]
) -> Response:
    svc = services()
    with svc.db.ReadSession() as session:  # the read replica, when there is one
        listing = build(session)
        export = export_to_temp(listing)
    try:
        with svc.db.Session.begin() as session:
            operators.audit(
                session,
                user(),
                "export_full" if full else "export",
                summary=f"导出{label}：{export.rows}行" + ("（含完整个人信息）" if full else ""),
                detail={"list": listing.name, "rows": export.rows, "full": full, **filters},
                ip=client_ip(),
            )
    except BaseException:
        list(export.chunks())  # removes the file
        raise
    filename = f"{label}-{clock.beijing_now():%Y%m%d-%H%M}.xlsx"
    response = Response(export.chunks(), mimetype=XLSX_MIME, direct_passthrough=True)
    response.headers["Content-Disposition"] = attachment(filename)
    response.headers["X-Export-Rows"] = str(export.rows)
    return response


@bp.get("/volunteers.xlsx")
def volunteers_export() -> Response:
    full = wants_full()
    filters = VolunteerFilters.from_args(request.args)
    pii = services().pii

    def build(session: Session) -> Listing:
        try:
            conditions = volunteer_conditions(session, user().scope, filters, pii)
        except ValidationError:
            abort(400)
        return volunteer_listing(session, conditions, full=full, pii=pii)

    return send_export("志愿者", build, full=full, filters=filters.as_args())


@bp.get("/teams.xlsx")
def teams_export() -> Response:
    wanted = {k: (request.args.get(k) or "")[:16] for k in ("status", "kind", "level")}
    return send_export(
        "服务队",
        lambda session: team_listing(session, user().scope, **wanted),
        full=False,
        filters={k: v for k, v in wanted.items() if v},
    )


def checked(build: Callable[[Session], Listing]) -> Callable[[Session], Listing]:
    """A listing whose filters were refused (a region outside the scope, a bad date): 400."""

    def run(session: Session) -> Listing:
        try:
            return build(session)
        except ValidationError:
            abort(400)

    return run


@bp.get("/activities.xlsx")
def activities_export() -> Response:
    filters = ActivityFilters.from_args(request.args)
    return send_export(
        "活动",
        checked(lambda session: activity_listing(session, user().scope, filters)),
        full=False,
        filters=filters.as_args(),
    )


@bp.get("/hours.xlsx")
def hours_export() -> Response:
    filters = HoursFilters.from_args(request.args)
    return send_export(
        "服务时长",
        checked(lambda session: hours_listing(session, user().scope, filters)),
        full=False,
        filters=filters.as_args(),
    )


@bp.get("/needs.xlsx")
def needs_export() -> Response:
    """服务需求 of the operator's scope, with the needs list's filters (services.needs_list)."""
    full = wants_full()
    filters = NeedFilters.from_args(request.args)

    def build(session: Session) -> Listing:
        return need_listing(session, filters.conditions(user().scope), full=full)

    return send_export("服务需求", checked(build), full=full, filters=filters.as_args())


@bp.get("/activities/<int:activity_id>/roster.xlsx")
def activity_roster_export(activity_id: int) -> Response:
    full = wants_full()

    def build(session: Session) -> Listing:
        activity = activities.get_visible(session, user().scope, activity_id)
        if activity is None:
            abort(404)
        return roster_listing(session, activity, full=full)

    return send_export(
        f"活动{activity_id}报名名单", build, full=full, filters={"activity": str(activity_id)}
    )


@bp.get("/notices/<int:notice_id>/recipients.xlsx")
def notice_recipients_export(notice_id: int) -> Response:
    full = wants_full()

    def build(session: Session) -> Listing:
        notice = notices.get_visible(session, user().scope, notice_id)
        if notice is None:
            abort(404)
        return recipient_listing(session, notice, full=full)

    return send_export(
        f"通知{notice_id}送达情况", build, full=full, filters={"notice": str(notice_id)}
    )
