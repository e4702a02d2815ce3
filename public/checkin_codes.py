"""/checkin-codes/<token>: an activity's 签到 and 签退 QR codes as printable pictures, for the
organiser who asked for them in chat. The token is the secret in the codes' scenes, so the page
shows nothing its holder could not already scan; renewing the codes ends the page too."""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Response, abort, current_app, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from domain import clock
from domain.hours import check_in_window
from extensions import Services
from models.activity import Activity
from models.service import CheckinCode
from services import attendance, attendance_posters

bp = Blueprint("checkin_codes", __name__, template_folder="templates")


def _services() -> Services:
    return cast(Services, current_app.extensions["services"])


def _codes(token: str) -> tuple[CheckinCode, Activity]:
    with _services().db.Session() as session:
        codes = session.scalar(select(CheckinCode).where(CheckinCode.token == token))
        activity = session.get(Activity, codes.activity_id) if codes is not None else None
        if codes is None or activity is None or codes.in_url is None or codes.out_url is None:
            abort(404)
        if not attendance.check_in_open(activity, clock.utcnow()):
            abort(404)
        session.expunge_all()
        return codes, activity


@bp.after_request
def private(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Robots-Tag", "noindex")
    return response


@bp.get("/checkin-codes/<token>")
def page(token: str) -> ResponseReturnValue:
    codes, activity = _codes(token)
    return render_template(
        "public/checkin_codes.html",
        codes=codes,
        activity=activity,
        window=check_in_window(activity.starts_at, activity.ends_at),
        show=clock.show,
    )


@bp.get("/checkin-codes/<token>/<kind>.png")
def picture(token: str, kind: str) -> ResponseReturnValue:
    if kind not in (attendance.IN, attendance.OUT):
        abort(404)
    codes, activity = _codes(token)
    url = codes.in_url if kind == attendance.IN else codes.out_url
    assert url is not None
    svc = _services()
    png = attendance_posters.cached_poster_png(
        svc.redis,
        svc.keys.checkin_poster,
        activity,
        kind,
        url,
        codes.code,
        svc.settings.certificate_font,
    )
    return Response(png, mimetype="image/png")
