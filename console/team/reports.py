"""统计: a team's figures for its admins, counting the team and the teams below it: members by
the month they joined, by education and by skill; activities and confirmed hours by month (and
by team when there are sub-teams). Drawn with the operators' dashboard's figure component
(console.figures: vendored ECharts, a table view, CSV/xlsx downloads), with a date range, and
every number links to the list behind it (services.reports_team)."""

from __future__ import annotations

from flask import Response, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console import figures as shared
from console.team.blueprint import bp, managed
from domain.errors import ValidationError
from services import reports_team, team_console
from services.reports import Figure, Filters, Row


def _dates() -> dict[str, str]:
    return {k: (request.args.get(k) or "").strip()[:12] for k in ("since", "until")}


def _filters(team_ids: frozenset[int]) -> tuple[Filters, str | None]:
    try:
        return Filters.for_teams(team_ids, **_dates()), None
    except ValidationError as exc:
        return Filters.for_teams(team_ids), exc.hint


@bp.get("/t/<int:team_id>/reports", endpoint="reports")
def reports_page(team_id: int) -> ResponseReturnValue:
    with managed(team_id) as (session, team):
        team_ids = team_console.team_and_below(session, team.id)
        filters, error = _filters(team_ids)
        figures = reports_team.team_figures(session, filters, team, len(team_ids) > 1)

        def link(figure: Figure, row: Row) -> str | None:
            if not row.link:
                return None
            # A row of one team (by team) names it as `team`: `team_id` is the page's own.
            row_args = {("team" if k == "team_id" else k): v for k, v in row.link.items()}
            args = shared.link_args(filters.args(), row_args)
            return url_for("team.reports_list", team_id=team_id, listing=figure.listing, **args)

        return render_template(
            "team/reports.html",
            team=team,
            figures=figures,
            data=shared.chart_data(figures, link),
            filters=filters,
            error=error,
            sub_teams=len(team_ids) - 1,
            link=link,
            number=shared.show_number,
            download=lambda f, kind: url_for(
                f"team.reports_{kind}",
                team_id=team_id,
                key=f.key,
                **shared.url_args(filters.args()),
            ),
        )


def _download(team_id: int, key: str, kind: str) -> Response:
    with managed(team_id) as (session, team):
        team_ids = team_console.team_and_below(session, team.id)
        filters, error = _filters(team_ids)
        if error:
            abort(400)
        found = reports_team.team_figures(session, filters, team, len(team_ids) > 1)
        response = shared.download(found, key, kind)
    if response is None:
        abort(404)
    return response


@bp.get("/t/<int:team_id>/reports/<key>.csv", endpoint="reports_csv")
def reports_csv(team_id: int, key: str) -> Response:
    return _download(team_id, key, "csv")


@bp.get("/t/<int:team_id>/reports/<key>.xlsx", endpoint="reports_xlsx")
def reports_xlsx(team_id: int, key: str) -> Response:
    return _download(team_id, key, "xlsx")


@bp.get("/t/<int:team_id>/reports/<any(volunteers, activities, hours):listing>")
def reports_list(team_id: int, listing: str) -> ResponseReturnValue:
    """The list behind a figure's number: members, activities or confirmed hours."""
    title, build = reports_team.LISTS[listing]
    wanted = reports_team.ListFilters.from_args(request.args)
    page = request.args.get("page", "1")
    with managed(team_id) as (session, team):
        team_ids = team_console.team_and_below(session, team.id)
        number = int(page) if page.isdigit() else 1
        try:
            if listing == "volunteers":  # counted from the team's rollup
                found = reports_team.member_page(session, team_ids, wanted, number, root=team.id)
            else:
                found = build(session, team_ids, wanted, number)
        except ValidationError as exc:
            abort(400, exc.hint)
        return render_template(
            "team/report_list.html",
            team=team,
            title=title,
            listing=listing,
            found=found,
            described=describe(wanted, reports_team.team_names(session, team_ids)),
            args=wanted.as_args(),
            number=shared.show_number,
        )


def describe(wanted: reports_team.ListFilters, names: dict[int, str]) -> str:
    """The list's filters in words: 2026-01-01 至 2026-01-31 · 本科."""
    parts = []
    if wanted.since or wanted.until:
        parts.append(f"{wanted.since or '…'} 至 {wanted.until or '…'}")
    parts += [v for v in (wanted.education, wanted.skill) if v]
    if wanted.team.isdigit() and int(wanted.team) in names:
        parts.append(names[int(wanted.team)])
    return " · ".join(parts) or "全部"
