"""统计 → a figure's list → 导出 Excel: the list behind a number as .xlsx, with the list's
filters, the team and the teams below it only, personal data masked as on the screen
(services.reports_team_export). Streamed from a temporary file; every export is audited."""

from __future__ import annotations

from flask import Response, abort, request
from flask.typing import ResponseReturnValue

from console.team.blueprint import bp, client_ip, managed, who
from domain.errors import ValidationError
from services import reports_team, team_console
from services.reports_export import XLSX_MIME, export_to_temp
from services.reports_team_export import LISTINGS


@bp.get(
    "/t/<int:team_id>/reports/<any(volunteers, activities, hours):listing>/export.xlsx",
    endpoint="reports_list_export",
)
def reports_list_export(team_id: int, listing: str) -> ResponseReturnValue:
    title, _page = reports_team.LISTS[listing]
    wanted = reports_team.ListFilters.from_args(request.args)
    with managed(team_id, write=True) as (session, team):
        team_ids = team_console.team_and_below(session, team.id)
        try:
            found = LISTINGS[listing](session, team_ids, wanted)
        except ValidationError as exc:
            abort(400, exc.hint)
        export = export_to_temp(found)
        try:
            team_console.record(
                session,
                who(),
                team,
                "export_report_list",
                f"导出统计清单：{title}（{export.rows} 行）",
                ip=client_ip(),
                detail={"list": listing, "rows": export.rows, **wanted.as_args()},
            )
        except BaseException:
            list(export.chunks())  # removes the file
            raise
        filename = f"team-{listing}-{team.team_no}.xlsx"
    response = Response(export.chunks(), mimetype=XLSX_MIME, direct_passthrough=True)
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    response.headers["X-Export-Rows"] = str(export.rows)
    return response
