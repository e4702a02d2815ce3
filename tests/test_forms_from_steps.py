"""Adding a form field is one Step line plus a column and a migration: what the volunteer and
team forms save, and what 我的信息 shows, come from the steps; these tests fail when a step and
the columns disagree."""

from __future__ import annotations

from dataclasses import fields

from handlers import team_register as team_handlers
from handlers import volunteer_edit
from handlers import volunteer_steps as volunteer_form
from models.team import Team
from models.volunteer import Volunteer
from services import teams
from tests import volunteer_steps as steps
from tests.wechat_user import WeChatUser


def test_every_volunteer_form_step_is_a_column_and_every_form_column_a_step() -> None:
    assert set(volunteer_form.FORM_COLUMNS) == Volunteer.form_columns()


def test_de_registration_clears_every_form_column() -> None:
    assert Volunteer.form_columns() <= Volunteer.personal_columns()
    assert not Volunteer.personal_columns() & Volunteer.RECORD_COLUMNS


def test_the_edit_flow_offers_every_form_step_but_the_county() -> None:
    editable = {s.name for s in volunteer_edit.EDITABLE}
    assert editable == set(volunteer_form.FORM_COLUMNS) - {"county_code"}


def test_profile_has_a_line_for_every_step(wechat_user: WeChatUser) -> None:
    steps.register(wechat_user)
    profile = wechat_user.click("VOLUNTEER_PROFILE")
    for step in volunteer_form.STEPS:
        if not step.in_summary or step.name in {"prefecture_code", "county_code"}:
            continue
        assert f"{step.label}：" in profile, step.name
    assert "所在地区：甘肃省兰州市城关区" in profile  # prefecture and county on one line
    assert "专长：果树栽培" in profile and "可服务时间：周末" in profile


def test_team_form_fields_are_the_saved_steps_and_team_columns() -> None:
    saved_steps = {s.name for s in team_handlers.FORM_STEPS}
    assert saved_steps == set(teams.DETAIL_FIELDS)
    columns = {c.key for c in Team.__table__.columns}
    assert {f.name for f in fields(teams.TeamForm)} <= columns | {"parent_id"}
    assert set(teams.DETAIL_FIELDS) <= columns
