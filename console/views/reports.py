"""统计: the dashboard's figures as ECharts charts (vendored, console/static/vendor/echarts),
each with a table view, CSV/xlsx downloads and links to the list behind every number."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from console.blueprint import bp, services, user
from console.forms import region_options
from domain import clock
from domain.errors import ValidationError
from services import reports, reports_needs
from services.reports_activities import HELD
from services.reports_export import XLSX_MIME, Listing, export_to_temp

LIST_ENDPOINTS = {
    "volunteers": "console.volunteers",
    "teams": "console.teams_export",
    "activities": "console.activities_export",
    "hours": "console.hours_export",
    "needs": "console.needs_export",
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
    args: dict[str, Any] = {**filters.args(), **row.link}
    if figure.listing == "teams":
        args.pop("since", None), args.pop("until", None)
        args["status"] = "approved"
    if figure.listing == "activities":
        args["status"] = HELD
    return url_for(LIST_ENDPOINTS[figure.listing], **args)


def chart_data(figures: list[reports.Figure], filters: reports.Filters) -> list[dict[str, Any]]:
    return [
        {
            "key": f.key,
            "title": f.title,
            "chart": f.chart,
            "unit": f.unit,
            "rows": [
                {
                    "label": r.label,
                    "value": r.value,
                    "area": r.area,
                    "link": row_link(f, r, filters),
                }
                for r in f.rows
            ],
        }
        for f in figures
    ]


@bp.get("/reports", endpoint="reports")
def reports_page() -> ResponseReturnValue:
    filters, error = current_filters()
    with services().db.ReadSession() as session:  # the read replica, when there is one
        figures = all_figures(session, filters)
    return render_template(
        "console/reports.html",
        figures=figures,
        data=chart_data(figures, filters),
        filters=filters,
        regions=region_options(user().scope),
        error=error,
        link=lambda f, r: row_link(f, r, filters),
        number=show_number,
    )


def show_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _figure(key: str) -> tuple[reports.Figure, reports.Filters]:
    filters, error = current_filters()
    if error:
        abort(400)
    with services().db.ReadSession() as session:
        figure = next((f for f in all_figures(session, filters) if f.key == key), None)
    if figure is None:
        abort(404)
    return figure, filters


def _filename(figure: reports.Figure, suffix: str) -> str:
    from console.views.exports import attachment

    return attachment(f"{figure.title}-{clock.beijing_now():%Y%m%d}.{suffix}")


@bp.get("/reports/<key>.csv")
def reports_csv(key: str) -> Response:
    figure, _ = _figure(key)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["项目", f"数值（{figure.unit}）"])
    for row in figure.rows:
        writer.writerow([row.label, show_number(row.value)])
    # A BOM so that Excel opens the UTF-8 file with the right encoding.
    response = Response("\ufeff" + buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = _filename(figure, "csv")
    return response


@bp.get("/reports/<key>.xlsx")
def reports_xlsx(key: str) -> Response:
    figure, _ = _figure(key)
    listing = Listing(
        figure.key,
        figure.title,
        (("项目", 30), (f"数值（{figure.unit}）", 14)),
        [(row.label, row.value) for row in figure.rows],
    )
    export = export_to_temp(listing)
    response = Response(export.chunks(), mimetype=XLSX_MIME, direct_passthrough=True)
    response.headers["Content-Disposition"] = _filename(figure, "xlsx")
    return response
