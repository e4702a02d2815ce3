"""志愿者 → 修改信息: change one answer of the registration form, or a setting (技能对队伍可见);
the ID number cannot be changed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from domain.errors import Ineligible
from handlers.context import Context
from handlers.volunteer_profile import profile_text
from handlers.volunteer_steps import FORM_COLUMNS, FORM_STEPS, SETTING_STEPS, STEPS, YES
from services import volunteers
from wechat.conversation import Data, Flow, Step
from wechat.messages import Reply
from wechat.router import Router

router = Router("volunteer")

EDITABLE = tuple(s for s in FORM_STEPS if s.name != "county_code")
CHOOSABLE = EDITABLE + SETTING_STEPS
FIELD_OPTIONS = tuple("所在地区" if s.name == "prefecture_code" else s.label for s in CHOOSABLE)
SETTING_NAMES = frozenset(s.name for s in SETTING_STEPS)


def _field(answer: str, data: Data) -> str:
    return CHOOSABLE[FIELD_OPTIONS.index(answer)].name


def _editing(name: str) -> Any:
    def applies(data: Data) -> bool:
        chosen = data.get("field")
        return chosen == name or (name == "county_code" and chosen == "prefecture_code")

    return applies


def _edit_steps() -> tuple[Step, ...]:
    steps = [
        Step(
            "field",
            "修改项目",
            "请选择要修改的信息（身份证号不能修改，如有误请注销后重新注册）：",
            parse=_field,
            choices=FIELD_OPTIONS,
            display=lambda v, d: FIELD_OPTIONS[[s.name for s in CHOOSABLE].index(v)],
        )
    ]
    for step in (*STEPS, *SETTING_STEPS):
        if step.name in FORM_COLUMNS or step.name in SETTING_NAMES:
            base_when = step.when
            editing = _editing(step.name)

            def when(data: Data, base: Any = base_when, editing: Any = editing) -> bool:
                return bool(editing(data)) and (base is None or bool(base(data)))

            steps.append(replace(step, when=when, when_label=f"修改{step.label}"))
    return tuple(steps)


def _save_edit(ctx: Context, data: Data) -> str:
    changes = {k: v for k, v in data.items() if k in FORM_COLUMNS}
    settings = {k: v == YES for k, v in data.items() if k in SETTING_NAMES}
    with ctx.services.db.Session.begin() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        if volunteer is None:
            raise Ineligible("您还没有注册志愿者，请点击「志愿者 → 注册」。")
        volunteers.update(session, volunteer, changes)
        volunteers.change_settings(session, volunteer, settings)
        profile = profile_text(volunteer)
    return "修改成功！\n\n" + profile


def _must_be_registered(ctx: Context) -> Reply | None:
    with ctx.services.db.Session() as session:
        if volunteers.find_by_openid(session, ctx.openid) is None:
            return Reply(text="您还没有注册志愿者，请点击底部菜单「志愿者 → 注册」。")
    return None


EDIT = Flow(
    name="volunteer_edit",
    title="修改志愿者信息",
    steps=_edit_steps(),
    on_confirm=_save_edit,
    before_start=_must_be_registered,
    summary_title="请核对修改内容",
)


@router.keyword("修改信息", "修改资料")
def edit(ctx: Context) -> Reply:
    return ctx.conversations.start(ctx, EDIT.name)
