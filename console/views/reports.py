"""统计: the dashboard's figures as ECharts charts (vendored, console/static/vendor/echarts),
each with a table view, CSV/xlsx downloads and links to the list behind every number (the
shared figure component: console.figures and console/templates/console/figures.html)."""

from __future__ import annotations

from flask import Response, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from console import figures as shared
from console.blueprint import bp, services, user
from console.forms import region_options
from domain.errors import ValidationError
from services import reports, reports_needs
from services.reports_activities import HELD

LIST_ENDPOINTS = {
    "volunteers": "console.volunteers",
    "teams": "console.teams_export",
    "activities": "console.activities_export",
    "hours": "console.hours_export",
    "needs": "console.needs",
}


def current_filters() -> tuple[reports.Filters, str | None]:
    scope = user().scope
    args = {k: (request.args.get(k) or "").strip()[:12] for k in ("region", "since", "until")}
    try:
        return reports.Filters.of(scope, **args), None
    except ValidationError as exc:
        return reports.Filters.of(scope), exc.hint


def all_figures(session: Session, filters: reports.Filters) -> list[reports.Figure]:
    """The volunteers', teams', activities' and hours' figures, then the needs'."""
    return reports.figures(session, filters) + reports_needs.need_figures(session, filters)


def row_link(figure: reports.Figure, row: reports.Row, filters: reports.Filters) -> str | None:
    if not row.link:
        return None
    args = shared.link_args(filters.args(), row.link)
    if figure.listing == "teams":
        args.pop("since", None), args.pop("until", None)
        args["status"] = "approved"
    if figure.listing == "activities":
        args["status"] = HELD
    if figure.listing == "needs":
        args["_anchor"] = "needs-list"
    return url_for(LIST_ENDPOINTS[figure.listing], **args)


@bp.get("/reports", endpoint="reports")
def reports_page() -> ResponseReturnValue:
    filters, error = current_filters()
    with services().db.ReadSession() as session:  # the read replica, when there is one
        figures = all_figures(session, filters)

    def link(f: reports.Figure, r: reports.Row) -> str | None:
        return row_link(f, r, filters)

    return render_template(
        "console/reports.html",
        figures=figures,
        data=shared.chart_data(figures, link),
        filters=filters,
        regions=region_options(user().scope),
        error=error,
        link=link,
        number=shared.show_number,
        download=lambda f, kind: url_for(
            f"console.reports_{kind}", key=f.key, **shared.url_args(filters.args())
        ),
    )


def _download(key: str, kind: str) -> Response:
    filters, error = current_filters()
    if error:
        abort(400)
    with services().db.ReadSession() as session:
        response = shared.download(all_figures(session, filters), key, kind)
    if response is None:
        abort(404)
    return response


@bp.get("/reports/<key>.csv")
def reports_csv(key: str) -> Response:
    return _download(key, "csv")


@bp.get("/reports/<key>.xlsx")
def reports_xlsx(key: str) -> Response:
    return _download(key, "xlsx")
