"""/gongshi/<year>: the published recognition list (公示), open to everyone."""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Response, abort, current_app, render_template
from flask.typing import ResponseReturnValue

from domain import regions
from domain.recognition import KIND_LABELS
from extensions import Services
from services import recognition

bp = Blueprint("recognition_public", __name__, template_folder="templates")


@bp.after_request
def headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


@bp.get("/gongshi/<int:year>", endpoint="page")
def gongshi(year: int) -> ResponseReturnValue:
    if not 2000 <= year <= 2100:
        abort(404)
    services = cast(Services, current_app.extensions["services"])
    with services.db.Session() as session:
        entries = recognition.published(session, year)
    if not entries:
        abort(404)
    by_kind = {kind: [e for e in entries if e.kind == kind] for kind in KIND_LABELS}
    return render_template(
        "public/recognition.html",
        year=year,
        by_kind=by_kind,
        kinds=KIND_LABELS,
        published_at=min(e.published_at for e in entries if e.published_at),
        account_name=services.settings.account_name,
        describe=lambda entry: recognition.describe(entry.figures),
        region=region_name,
    )


def region_name(code: str | None) -> str:
    division = regions.get(code or "")
    return (regions.label(division.code).removeprefix("甘肃省") if division else "") or "全省"
