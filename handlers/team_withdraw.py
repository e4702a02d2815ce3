"""A registrant withdraws (撤回) a pending team registration in chat: 「撤回注册」 lists them,
「撤回注册 N」 withdraws one and frees its name for a corrected registration."""

from __future__ import annotations

from handlers.context import Context
from models.team import Team
from services import teams
from wechat.router import Router

router = Router("team_withdraw")

NOTHING_PENDING = "您没有待审核的队伍注册申请。"


def _pending_list(found: list[Team]) -> str:
    lines = [f"{i}. {team.name}（编号 {team.team_no}）" for i, team in enumerate(found, 1)]
    return (
        "您待审核的队伍注册申请：\n"
        + "\n".join(lines)
        + "\n\n确定撤回请回复「撤回注册 序号」，如「撤回注册 1」。撤回后名称将释放，可修改后重新提交。"
    )


@router.keyword("撤回注册", "撤回队伍注册", "撤销注册")
def list_withdrawable(ctx: Context) -> str:
    with ctx.services.db.Session() as session:
        found = teams.pending_registrations(session, ctx.openid)
        return _pending_list(found) if found else NOTHING_PENDING


@router.pattern(r"(?:撤回|撤销)(?:队伍)?注册\s*(\d{1,2})")
def withdraw_registration(ctx: Context) -> str:
    assert ctx.match is not None
    index = int(ctx.match.group(1))
    with ctx.services.db.Session.begin() as session:
        found = teams.pending_registrations(session, ctx.openid)
        if not found:
            return NOTHING_PENDING
        if not 1 <= index <= len(found):
            return f"没有第 {index} 个申请，请回复「撤回注册」查看序号。"
        try:
            team = teams.withdraw(session, found[index - 1].id, ctx.openid)
        except teams.TeamError as exc:
            return exc.hint
        return (
            f"已撤回「{team.name}」的注册申请，该名称已释放。如需重新注册，请点击「组织 → 注册」。"
        )
