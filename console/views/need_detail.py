"""One need in the console (/console/needs/<id>): everything the operators of its region may
see, the team that took it on and its activity, and the poster's feedback once the service is
done (满意度 1–5 and the comment)."""

from __future__ import annotations

from flask import abort, render_template
from flask.typing import ResponseReturnValue

from console.blueprint import bp, services, user
from models.activity import Activity
from models.need import Need
from services import needs
from services.needs_followup import SATISFACTION_LABELS


@bp.get("/needs/<int:need_id>", endpoint="need")
def need_page(need_id: int) -> ResponseReturnValue:
    with services().db.Session() as session:
        need = session.get(Need, need_id)
        if need is None or not user().scope.allows(need.prefecture_code, need.county_code):
            abort(404)
        activity = session.get(Activity, need.activity_id) if need.activity_id else None
        return render_template(
            "console/need.html",
            need=need,
            view=needs.public_need(need),
            team=needs.claimed_team_name(session, need),
            activity=activity,
            stale=needs.is_stale(need),
            stale_days=needs.STALE_DAYS,
            public_path=needs.public_path(need.need_no),
            satisfaction=(
                SATISFACTION_LABELS[need.satisfaction - 1] if need.satisfaction else None
            ),
        )
