"""「管理后台」 from 组织 → 我的队伍: a team admin gets a personal one-time login link to the team
console (valid 5 minutes, single use, bound to their openid)."""

from __future__ import annotations

from handlers.context import Context
from services import teams
from services.team_console_logins import LINK_SECONDS, TeamLogins, login_url
from wechat.router import Router

router = Router("admin_console_link")

NOT_ADMIN = "「管理后台」供队伍管理员使用。您目前不是任何队伍的管理员。"


@router.keyword("管理后台", "队伍后台", "队伍管理后台")
def console_link(ctx: Context) -> str:
    services = ctx.services
    with services.db.Session() as session:
        if not teams.admin_teams(session, ctx.openid):
            return NOT_ADMIN
    token = TeamLogins(services.redis, services.keys).issue_link(ctx.openid)
    url = login_url(services.settings.public_base_url, token)
    return (
        f'<a href="{url}">点此进入队伍管理后台</a>\n'
        f"链接仅限您本人使用一次，{LINK_SECONDS // 60}分钟内有效，请勿转发。"
        "过期后再次回复「管理后台」获取新链接。"
    )
