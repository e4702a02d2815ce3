"""统计: a team's figures for its admins (members by registration month, by education and by
skill; activities and confirmed hours by month), counting the team and the teams below it. The
queries are the operators' dashboard's (services.reports) with a team scope."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from console.team.blueprint import bp, managed
from services import reports, team_console


@bp.get("/t/<int:team_id>/reports", endpoint="reports")
def reports_page(team_id: int) -> ResponseReturnValue:
    with managed(team_id) as (session, team):
        team_ids = team_console.team_and_below(session, team.id)
        figures = team_figures(session, reports.Filters.for_teams(team_ids))
        return render_template(
            "team/reports.html",
            team=team,
            figures=figures,
            sub_teams=len(team_ids) - 1,
            number=show_number,
        )


def team_figures(session: Session, filters: reports.Filters) -> list[reports.Figure]:

    return [
        reports.volunteers_by_month(session, filters),
        reports.volunteers_by_education(session, filters),
        reports.volunteers_by_skill(session, filters),
        reports.activities_by_month(session, filters),
        reports.hours_by_month(session, filters),
    ]


def show_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
