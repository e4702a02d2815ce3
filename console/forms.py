"""Console forms (Flask-WTF): each carries a CSRF token; messages are in Chinese."""

from __future__ import annotations

from collections.abc import Iterable

from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from wtforms import (
    DateTimeLocalField,
    DecimalField,
    Field,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from domain.choices import EDUCATION_LEVELS, OCCUPATIONS, SERVICE_TIMES, SKILLS
from models.activity import ACTIVITY_TYPES, KEY_DATES
from models.team import STATUS_APPROVED, Team
from services.operators import Scope

REQUIRED = "必填"
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def options(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """Choices for a select field: (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def same(values: Iterable[str]) -> list[SelectChoice]:
    """Choices whose label is their value."""
    return [SelectChoice(value) for value in values]


def region_options(scope: Scope) -> list[SelectChoice]:
    """The empty choice (the whole scope), then each 市州 and 县区 inside it, counties indented."""
    inner = [d for d in scope.regions() if d.code != scope.code]
    return options(
        [("", f"{scope.label}（全部）")]
        + [(d.code, ("　" if d.level == "county" else "") + d.name) for d in inner]
    )


def team_options(teams: Iterable[Team], empty: str) -> list[SelectChoice]:
    return options([("", empty)] + [(str(t.id), t.name) for t in teams])


# A province has some 20,000 teams: more than this many in the operator's scope and a filter
# asks for the team's number (KT…) instead of offering a menu nobody could scroll.
TEAM_MENU_LIMIT = 300


def team_menu(session: Session, scope: Scope, empty: str) -> list[SelectChoice] | None:
    """The approved teams of the scope as menu choices (by name), or None when there are more
    than TEAM_MENU_LIMIT (see team_number_box)."""
    where = (scope.where(Team.prefecture_code, Team.county_code), Team.status == STATUS_APPROVED)
    if (session.scalar(select(func.count(Team.id)).where(*where)) or 0) > TEAM_MENU_LIMIT:
        return None
    rows = session.execute(select(Team.id, Team.name).where(*where).order_by(Team.name)).all()
    return options([("", empty)] + [(str(team_id), name) for team_id, name in rows])


class _TeamNumberBox:
    """Renders a team filter as a text box for the team's number (or its id, as links give)."""

    def __call__(self, field: Field, **kwargs: object) -> Markup:
        value = "" if field.data is None else str(field.data)
        return Markup(
            f'<input type="text" id="{escape(field.id)}" name="{escape(field.name)}" '
            f'value="{escape(value)}" placeholder="服务队编号，如 KT12345678" maxlength="16">'
        )


def team_number_box(field: SelectField) -> None:
    """Turn a team menu into a box for the team number (the menu would be too long)."""
    field.choices = []
    field.widget = _TeamNumberBox()


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(REQUIRED), Length(max=40)])
    password = PasswordField("密码", validators=[DataRequired(REQUIRED), Length(max=200)])


class RejectForm(FlaskForm):
    reason = StringField(
        "驳回原因",
        validators=[DataRequired("请填写驳回原因"), Length(max=200, message="不超过200字")],
    )


class ActivityForm(FlaskForm):
    title = StringField("活动名称", validators=[DataRequired(REQUIRED), Length(max=60)])
    type = SelectField("活动类型", choices=same(ACTIVITY_TYPES))
    service_field = SelectField(
        "服务领域", choices=options([("", "（不限）")]) + same(SKILLS), validate_choice=False
    )
    key_date = SelectField("重要节点", choices=options([("", "（无）")]) + same(KEY_DATES))
    team_id = SelectField("组织单位", validate_choice=False)
    region = SelectField("活动地区", validate_choice=False)
    place = StringField("活动地点", validators=[DataRequired(REQUIRED), Length(max=100)])
    starts_at = DateTimeLocalField(
        "开始时间", format=DATETIME_FORMAT, validators=[InputRequired("请填写开始时间")]
    )
    ends_at = DateTimeLocalField(
        "结束时间", format=DATETIME_FORMAT, validators=[InputRequired("请填写结束时间")]
    )
    capacity = IntegerField(
        "招募人数",
        validators=[Optional(), NumberRange(min=1, max=100000, message="1-100000")],
        description="留空表示不限",
    )
    signup_deadline = DateTimeLocalField(
        "报名截止", format=DATETIME_FORMAT, validators=[Optional()]
    )
    latitude = DecimalField("纬度", places=6, validators=[Optional(), NumberRange(-90, 90)])
    longitude = DecimalField("经度", places=6, validators=[Optional(), NumberRange(-180, 180)])
    required_skills = MultiCheckboxField("报名要求：专业领域（任一，可不选）", choices=same(SKILLS))
    required_region = SelectField("报名要求：所在地区", validate_choice=False)
    description = TextAreaField("活动简介", validators=[DataRequired(REQUIRED), Length(max=2000)])
    contact = StringField("联系方式", validators=[DataRequired(REQUIRED), Length(max=60)])
    cover = StringField(
        "封面图片地址",
        validators=[Optional(), Length(max=255)],
        description="https 开头的图片地址；留空使用默认封面",
    )


class TemplateForm(FlaskForm):
    template_id = StringField("模板ID", validators=[DataRequired(REQUIRED), Length(max=64)])
    title = StringField("模板标题", validators=[DataRequired(REQUIRED), Length(max=60)])
    fields = TextAreaField(
        "关键词",
        validators=[DataRequired(REQUIRED)],
        description="每行一个，如「thing1 活动名称」，或直接粘贴模板内容「活动名称:{{thing1.DATA}}」",
    )


class AudienceForm(FlaskForm):
    """Audience filters of the composer (the template values are read separately)."""

    region = SelectField("地区", validate_choice=False)
    team_id = SelectField("服务队", validate_choice=False)
    skills = MultiCheckboxField("专业领域（任一）", choices=same(SKILLS))
    service_times = MultiCheckboxField("可服务时间（任一）", choices=same(SERVICE_TIMES))
    audience_activity = SelectField("活动", validate_choice=False)
    activity_state = SelectField(
        "活动参与情况",
        choices=options([("signed_up", "报名了该活动"), ("checked_in", "已签到该活动")]),
        validate_choice=False,
    )
    url = StringField("链接（可选）", validators=[Optional(), Length(max=1024)])


class AccountForm(FlaskForm):
    openid = StringField("我的微信 openid", validators=[Optional(), Length(max=64)])


class PasswordForm(FlaskForm):
    current = PasswordField("当前密码", validators=[DataRequired(REQUIRED)])
    new = PasswordField("新密码", validators=[DataRequired(REQUIRED), Length(min=10, max=200)])
    confirm = PasswordField(
        "再次输入新密码", validators=[EqualTo("new", message="两次输入的新密码不一致")]
    )


class VolunteerFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    q = StringField(
        "姓名（从姓开始）、编号、手机号或身份证号", validators=[Optional(), Length(max=40)]
    )
    region = SelectField("地区", validate_choice=False)
    skill = SelectField("专业领域", choices=options([("", "（全部）")]) + same(SKILLS))
    team_id = SelectField("服务队", validate_choice=False)
    education = SelectField("学历", choices=options([("", "（全部）")]) + same(EDUCATION_LEVELS))
    occupation = SelectField("职业/身份", choices=options([("", "（全部）")]) + same(OCCUPATIONS))
    since = StringField("注册日期起", render_kw={"type": "date"})
    until = StringField("至", render_kw={"type": "date"})
