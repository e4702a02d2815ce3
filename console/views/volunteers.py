"""志愿者: search and filter within the operator's region. ID numbers and phones stay masked."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from console.blueprint import bp, services, user
from console.forms import VolunteerFilterForm, region_options, team_menu, team_number_box
from domain import clock
from domain.contact import mask_mobile
from domain.errors import ValidationError
from models.volunteer import Volunteer
from services import paging, volunteer_counts
from services.reports_lists import (
    ID_NUMBER_LIKE,
    PHONE_LIKE,
    VolunteerFilters,
    volunteer_conditions,
)
from services.volunteers import region_text

PAGE_SIZE = 50


def _personal(q: str) -> bool:
    """An ID or mobile number: searched by POST and left out of page links, so it never ends up
    in a URL (access logs, browser history)."""
    return bool(ID_NUMBER_LIKE.fullmatch(q) or PHONE_LIKE.fullmatch(q))


def _id(volunteer: Volunteer) -> int:
    return volunteer.id


@bp.route("/volunteers", methods=["GET", "POST"])
def volunteers() -> ResponseReturnValue:
    scope = user().scope
    source = request.form if request.method == "POST" else request.args
    form = VolunteerFilterForm(source)
    form.region.choices = region_options(scope)
    page = max(1, source.get("page", 1, type=int) or 1)
    error = None
    with services().db.ReadSession() as session:  # the read replica, when there is one
        menu = team_menu(session, scope, "（全部）")
        if menu is None:
            team_number_box(form.team_id)
        else:
            form.team_id.choices = menu
        filters = VolunteerFilters.from_args(source)
        applied = filters
        try:
            conditions = volunteer_conditions(session, scope, filters, services().pii)
        except ValidationError as exc:
            error = exc.hint
            applied = replace(filters, region="", since="", until="")
            conditions = volunteer_conditions(session, scope, applied, services().pii)
        total = volunteer_counts.count(session, scope, applied, conditions)
        window = paging.Window.of(total, page, PAGE_SIZE)
        page, pages = window.page, window.pages
        ids = paging.page_ids(
            session, Volunteer.id, conditions, window, volunteer_counts.first_by(applied)
        )
        found = paging.in_order(
            ids, session.scalars(select(Volunteer).where(Volunteer.id.in_(ids))).all(), _id
        )
        rows = [
            {
                "no": v.volunteer_no,
                "name": v.name,
                "gender": v.gender or "",
                "id_number": v.id_number_masked or "",
                "phone": mask_mobile(v.phone) if v.phone else "",
                "education": v.education or "",
                "region": region_text(v.prefecture_code, v.county_code),
                "skills": "、".join(v.skills or []),
                "times": "、".join(v.service_times or []),
                "registered": clock.show_date(v.created_at),
            }
            for v in found
        ]

    def page_args(n: int) -> str:
        args = {
            k: v
            for k, v in source.items()
            if k not in ("page", "csrf_token") and v and not (k == "q" and _personal(v))
        }
        return urlencode({**args, "page": n})

    return render_template(
        "console/volunteers.html",
        form=form,
        rows=rows,
        total=total,
        page=page,
        pages=pages,
        page_args=page_args,
        error=error,
        # An ID or mobile number searched for stays out of the export link too.
        export_args={k: v for k, v in filters.as_args().items() if not (k == "q" and _personal(v))},
    )
