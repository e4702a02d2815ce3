"""The team admins' console (/team): opened from chat with a one-time link, or silently through
WeChat's web authorisation inside WeChat; scoped to the admin's teams and the teams below them.

Mobile first: one column, large tap targets, the operator console's colours. Every page checks
the admin's rights afresh (services.team_console.admin_user); every change is audited.
"""

from __future__ import annotations

from flask import Flask

from console.team.blueprint import bp


def init_team_console(app: Flask) -> None:
    from console.team import (  # noqa: F401
        access,
        activities,
        attendance,
        errors,
        members,
        needs,
        needs_notify,
        notices,
        report_exports,
        reports,
        subteams,
    )
    from infra.errors import add_error_page

    app.register_blueprint(bp)
    add_error_page(app, bp.url_prefix or "/team", errors.page)


__all__ = ["bp", "init_team_console"]
