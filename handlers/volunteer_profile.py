"""志愿者 → 我的信息: the volunteer's profile, one line per question of the form.

The volunteer's modules share the router name "volunteer", so their routes keep their names
(volunteer.register, volunteer.profile, … in the logs and metrics)."""

from __future__ import annotations

from domain.clock import show_date
from handlers.context import Context
from handlers.volunteer_steps import FORM_COLUMNS, SETTING_STEPS, STEPS, setting_answer
from models.volunteer import Volunteer
from services import recognition, teams, volunteers
from wechat.conversation import Step
from wechat.router import Router

router = Router("volunteer")


def _profile_line(step: Step, volunteer: Volunteer) -> list[str]:
    if step.name == "id_number":
        return [f"{step.label}：{volunteer.id_number_masked}", f"性别：{volunteer.gender or '—'}"]
    if step.name == "prefecture_code":
        region = volunteers.region_text(volunteer.prefecture_code, volunteer.county_code)
        return [f"所在地区：{region}"]
    if step.name == "county_code":
        return []  # shown with 所在地区
    values = {column: getattr(volunteer, column) for column in FORM_COLUMNS}
    return [f"{step.label}：{step.show(values.get(step.name), values)}"]


def profile_text(volunteer: Volunteer) -> str:
    lines = ["【我的志愿者信息】", f"志愿者编号：{volunteer.volunteer_no}"]
    for step in STEPS:
        if step.in_summary:
            lines += _profile_line(step, volunteer)
    for step in SETTING_STEPS:
        lines.append(f"{step.label}：{setting_answer(step, volunteer)}")
    lines.append(f"所在队伍：{teams.team_names_line(volunteer)}")
    lines.append(f"注册时间：{show_date(volunteer.created_at)}")
    lines += recognition.honour_lines(volunteer)
    return "\n".join(lines)


def profile_with_actions(volunteer: Volunteer) -> str:
    return (
        profile_text(volunteer)
        + "\n\n回复「修改信息」修改资料；回复「注销」撤回同意并删除个人信息。"
    )


@router.click("VOLUNTEER_PROFILE")
@router.keyword("我的信息", "个人信息")
def profile(ctx: Context) -> str:
    with ctx.services.db.Session() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        if volunteer is None:
            return "您还没有注册志愿者。点击底部菜单「志愿者 → 注册」即可开始注册。"
        return profile_with_actions(volunteer)
