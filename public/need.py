"""/n/<number>: the public page of a need (published, claimed or done), the contact masked."""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Response, abort, current_app, render_template
from flask.typing import ResponseReturnValue

from extensions import Services
from services import needs

bp = Blueprint("need_public", __name__, template_folder="templates")


@bp.after_request
def headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


@bp.get("/n/<string:need_no>", endpoint="page")
def need_page(need_no: str) -> ResponseReturnValue:
    services = cast(Services, current_app.extensions["services"])
    with services.db.Session() as session:
        need = needs.find_need(session, need_no[:20])
        if need is None or need.status not in needs.PUBLIC_STATUSES:
            abort(404)
        view = needs.public_need(need)
        team = needs.claimed_team_name(session, need)
    return render_template(
        "public/need.html", need=view, team=team, account_name=services.settings.account_name
    )
