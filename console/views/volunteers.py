"""志愿者: search and filter within the operator's region. ID numbers and phones stay masked."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import ColumnElement, exists, false, func, literal, or_, select

from console.blueprint import bp, services, user
from console.forms import VolunteerFilterForm, region_options, team_options
from domain import clock
from domain.contact import mask_mobile, parse_mobile
from domain.errors import ValidationError
from domain.idcard import parse_id_number
from models.team import MEMBERSHIP_JOINED, Membership
from models.volunteer import ACTIVE, Volunteer
from services.notices import json_array_contains, teams_in
from services.volunteers import ID_CONTEXT, region_text

PAGE_SIZE = 50
ID_NUMBER_LIKE = re.compile(r"[0-9０-９]{17}[0-9０-９xXｘＸ]")
PHONE_LIKE = re.compile(r"[+0-9\s\-]{11,18}")


def _matching(q: str) -> ColumnElement[bool]:
    """Name (part of it), volunteer number, full mobile number, or full ID number. An ID number
    is looked up by its keyed hash (the blind index), never by decrypting rows."""
    if ID_NUMBER_LIKE.fullmatch(q):
        try:
            card = parse_id_number(q)
        except ValidationError:
            return false()
        return Volunteer.id_number_hash == services().pii.blind_index(
            card.number, context=ID_CONTEXT
        )
    if PHONE_LIKE.fullmatch(q):
        try:
            return Volunteer.phone == parse_mobile(q)
        except ValidationError:
            pass
    return or_(Volunteer.name.contains(q, autoescape=True), Volunteer.volunteer_no == q.upper())


def _personal(q: str) -> bool:
    """An ID or mobile number: searched by POST and left out of page links, so it never ends up
    in a URL (access logs, browser history)."""
    return bool(ID_NUMBER_LIKE.fullmatch(q) or PHONE_LIKE.fullmatch(q))


@bp.route("/volunteers", methods=["GET", "POST"])
def volunteers() -> ResponseReturnValue:
    scope = user().scope
    source = request.form if request.method == "POST" else request.args
    form = VolunteerFilterForm(source)
    form.region.choices = region_options(scope)
    page = max(1, source.get("page", 1, type=int) or 1)
    error = None
    with services().db.Session() as session:
        form.team_id.choices = team_options(teams_in(session, scope), "（全部）")
        conditions = [Volunteer.status == ACTIVE]
        try:
            region = scope.narrow(form.region.data or None)
        except ValidationError as exc:
            error, region = exc.hint, scope
        conditions.append(region.where(Volunteer.prefecture_code, Volunteer.county_code))
        q = (form.q.data or "").strip()
        if q:
            conditions.append(_matching(q))
        if form.skill.data:
            conditions.append(json_array_contains(session, Volunteer.skills, form.skill.data))
        if form.education.data:
            conditions.append(Volunteer.education == form.education.data)
        if (form.team_id.data or "").isdigit():
            conditions.append(
                exists(
                    select(literal(1)).where(
                        Membership.volunteer_id == Volunteer.id,
                        Membership.team_id == int(form.team_id.data),
                        Membership.status == MEMBERSHIP_JOINED,
                    )
                )
            )
        total = int(session.scalar(select(func.count(Volunteer.id)).where(*conditions)) or 0)
        pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
        page = min(page, pages)
        found = session.scalars(
            select(Volunteer)
            .where(*conditions)
            .order_by(Volunteer.id.desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        ).all()
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
    )
