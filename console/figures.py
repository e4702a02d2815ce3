"""Figures as both consoles show them: an ECharts chart (vendored, console/static/vendor/echarts,
drawn by console/static/reports.js), a table view, CSV/xlsx downloads, and a link from every
number to the list behind it. The markup is the macro in console/templates/console/figures.html.
The operators' dashboard (console.views.reports) and the team console's 统计
(console.team.reports) both use this; only their queries, filters and list endpoints differ."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from typing import Any

from flask import Response

from console.views.exports import attachment
from domain import clock
from services.reports import Figure, Row
from services.reports_export import XLSX_MIME, Listing, export_to_temp

# The page's link for one row of one figure (None: the row has no list behind it).
RowLink = Callable[[Figure, Row], str | None]


def show_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def link_args(filters: Mapping[str, str], row: Mapping[str, str]) -> dict[str, Any]:
    """The page's filters with a row's own list filters. A row's dates (a month) are cut to the
    page's date range, so the list holds exactly what the number counted."""
    args: dict[str, Any] = {**filters, **row}
    if filters.get("since") and row.get("since"):
        args["since"] = max(filters["since"], row["since"])
    if filters.get("until") and row.get("until"):
        args["until"] = min(filters["until"], row["until"])
    return args


def url_args(filters: Mapping[str, str]) -> dict[str, Any]:
    """Filters as url_for's keyword arguments."""
    return dict(filters)


def chart_data(figures: list[Figure], link: RowLink) -> list[dict[str, Any]]:
    """The figures as the JSON reports.js draws (with each row's link for a click)."""
    return [
        {
            "key": f.key,
            "title": f.title,
            "chart": f.chart,
            "unit": f.unit,
            "rows": [
                {"label": r.label, "value": r.value, "area": r.area, "link": link(f, r)}
                for r in f.rows
            ],
        }
        for f in figures
    ]


def _disposition(figure: Figure, suffix: str) -> str:
    return attachment(f"{figure.title}-{clock.beijing_now():%Y%m%d}.{suffix}")


def csv_response(figure: Figure) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["项目", f"数值（{figure.unit}）"])
    for row in figure.rows:
        writer.writerow([row.label, show_number(row.value)])
    # A BOM so that Excel opens the UTF-8 file with the right encoding.
    response = Response("\ufeff" + buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = _disposition(figure, "csv")
    return response


def xlsx_response(figure: Figure) -> Response:
    listing = Listing(
        figure.key,
        figure.title,
        (("项目", 30), (f"数值（{figure.unit}）", 14)),
        [(row.label, row.value) for row in figure.rows],
    )
    export = export_to_temp(listing)
    response = Response(export.chunks(), mimetype=XLSX_MIME, direct_passthrough=True)
    response.headers["Content-Disposition"] = _disposition(figure, "xlsx")
    return response


def download(figures: list[Figure], key: str, kind: str) -> Response | None:
    """One figure as CSV or xlsx; None when there is no such figure."""
    figure = next((f for f in figures if f.key == key), None)
    if figure is None:
        return None
    return csv_response(figure) if kind == "csv" else xlsx_response(figure)
