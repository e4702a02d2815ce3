"""The consent to show one's skills to teams (off by default): 「技能展示」 shows it,
「同意展示技能」 / 「取消展示技能」 change it; it is also the line 「技能对队伍可见」 of 我的信息,
changed in 修改信息 (handlers/volunteer_edit.py). Teams see the name of a volunteer among the
suggestions for a need only with it (services.needs_matching), and only such volunteers get the
notices about matched needs (services.needs_notices); others are only counted."""

from __future__ import annotations

from handlers.context import Context
from services import volunteers
from wechat.router import Router

router = Router("needs_consent")

NOT_REGISTERED = "您还不是注册志愿者。点击「志愿者 → 注册」注册后即可设置。"
EXPLAIN = (
    "同意后，科技志愿服务队和科协在为服务需求匹配志愿者时可以看到您的姓名、专业领域和可服务时间，"
    "您也会收到与您技能相符的需求通知；不同意时只计入人数，不显示您的信息。"
)


def _state(visible: bool) -> str:
    return "已同意" if visible else "未同意（默认）"


@router.keyword("技能展示", "展示技能")
def show(ctx: Context) -> str:
    with ctx.services.db.Session() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        if volunteer is None:
            return NOT_REGISTERED
        visible = volunteer.skills_visible
    action = "回复「取消展示技能」撤回" if visible else "回复「同意展示技能」同意"
    return (
        f"向服务队展示专业技能：{_state(visible)}。\n{EXPLAIN}\n{action}"
        "（也可在「我的信息」→「修改信息」中修改「技能对队伍可见」）。"
    )


def _set(ctx: Context, visible: bool) -> str:
    with ctx.services.db.Session.begin() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        if volunteer is None:
            return NOT_REGISTERED
        volunteers.change_settings(session, volunteer, {"skills_visible": visible})
    if visible:
        return "已同意向服务队展示您的专业技能。回复「取消展示技能」可随时撤回。"
    return "已撤回，服务队匹配需求时不再显示您的信息。"


@router.keyword("同意展示技能")
def agree(ctx: Context) -> str:
    return _set(ctx, True)


@router.keyword("取消展示技能", "撤回展示技能", "不展示技能")
def withdraw(ctx: Context) -> str:
    return _set(ctx, False)
