"""志愿者: the registration form's questions (one Step each), shared by registering, 我的信息
and 修改信息: each step that is a column of the volunteer is named like it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from domain import regions
from domain.choices import (
    EDUCATION_LEVELS,
    HINT_UNDER_EDUCATION,
    OCCUPATIONS,
    SERVICE_TIMES,
    SKILLS,
    is_below_high_school,
    parse_education,
)
from domain.contact import mask_mobile, parse_free_text, parse_mobile, parse_person_name
from domain.errors import Ineligible, ValidationError
from domain.idcard import check_adult, mask_id_number, parse_id_number
from handlers.context import Context
from models.volunteer import Volunteer
from wechat.conversation import AnswerPolicy, Data, Step

PRIVACY_NOTICE = (
    "【个人信息保护说明】\n"
    "注册科技志愿者需要收集：姓名、身份证号、手机号、学历、所在地区、职业、专业技能和可服务时间。\n"
    "· 用途：依据《志愿服务条例》进行实名注册、组织志愿服务、记录服务时长。\n"
    "· 身份证号属于敏感个人信息，仅用于实名核验和防止重复注册，加密存储，页面只显示部分号码。\n"
    "· 谁能看到：您本人；您加入的服务队管理员和科协工作人员可看到姓名、技能等，看不到完整身份证号和手机号。\n"
    "· 撤回：可随时在「我的信息」中回复「注销」撤回同意并删除个人信息。\n\n"
    "您是否同意我们按上述方式处理您的个人信息（含身份证号）？"
)

CONSENT_OPTIONS = ("同意", "不同意")


def _consent(answer: str, data: Data) -> str:
    if answer != "同意":
        raise Ineligible(
            "您未同意个人信息处理规则，本次注册已结束，未保存任何信息。如改变主意，可随时重新点击「志愿者 → 注册」。"
        )
    return answer


def _id_number(text: str, data: Data) -> str:
    card = parse_id_number(text)
    try:
        check_adult(card, date.today())
    except Ineligible:
        raise Ineligible(
            "感谢您的热心！根据通知要求，科技志愿者需年满18周岁。您的信息未被保存，欢迎成年后再来注册。"
        ) from None
    return card.number


def _name(text: str, data: Data) -> str:
    return parse_person_name(text)


def _mobile(text: str, data: Data) -> str:
    return parse_mobile(text)


def _education(answer: str, data: Data) -> str:
    return parse_education(answer)


@dataclass(frozen=True)
class EducationStep(Step):
    """The menu lists high school and above only; an answer naming a lower level (「初中」)
    ends the registration with the explanation instead of 「没有这个选项」."""

    def accept(self, text: str, data: Data, ctx: Context, answers: AnswerPolicy) -> Any:
        if is_below_high_school(text):
            raise Ineligible(HINT_UNDER_EDUCATION)
        return super().accept(text, data, ctx, answers)


def _prefecture_names(data: Data) -> list[str]:
    return [p.name for p in regions.prefectures()] + [regions.OUTSIDE_GANSU_LABEL]


def _prefecture(answer: str, data: Data) -> str:
    if answer == regions.OUTSIDE_GANSU_LABEL:
        return regions.OUTSIDE_GANSU
    division = regions.find_prefecture(answer)
    if division is None:  # pragma: no cover - answer comes from the option list
        raise ValidationError("请选择所在市州。")
    return division.code


def _has_counties(data: Data) -> bool:
    code = data.get("prefecture_code")
    return isinstance(code, str) and code != regions.OUTSIDE_GANSU and bool(regions.counties(code))


def _county_names(data: Data) -> list[str]:
    return [c.name for c in regions.counties(data.get("prefecture_code") or "")]


def _county(answer: str, data: Data) -> str:
    division = regions.find_county(data["prefecture_code"], answer)
    if division is None:  # pragma: no cover - answer comes from the option list
        raise ValidationError("请选择所在县区。")
    return division.code


def _employer(text: str, data: Data) -> str:
    return parse_free_text(text, 100, "工作单位")


def _specialty(text: str, data: Data) -> str:
    return parse_free_text(text, 200, "专长")


def _show_region(code: Any, data: Data) -> str:
    return regions.label(code)


def _show_county(code: Any, data: Data) -> str:
    division = regions.get(code)
    return division.name if division else str(code)


STEPS: tuple[Step, ...] = (
    Step(
        "consent",
        "同意个人信息处理",
        PRIVACY_NOTICE,
        parse=_consent,
        choices=CONSENT_OPTIONS,
        hint="我们需要您单独同意处理身份证号等敏感个人信息，不同意则无法注册。",
        in_summary=False,
    ),
    Step(
        "name",
        "姓名",
        "请输入您的真实姓名：",
        parse=_name,
        hint="2-20个汉字，少数民族姓名可用「·」分隔。",
    ),
    Step(
        "id_number",
        "身份证号",
        "请输入您的18位身份证号（仅用于实名核验，加密保存）：",
        parse=_id_number,
        sensitive=True,
        display=lambda v, d: mask_id_number(v),
        hint="第二代居民身份证上的18位号码，最后一位可能是X。年满18周岁方可注册。",
    ),
    Step(
        "phone",
        "手机号",
        "请输入您的手机号：",
        parse=_mobile,
        display=lambda v, d: mask_mobile(v),
        hint="11位中国大陆手机号，用于活动联系。",
    ),
    EducationStep(
        "education",
        "学历",
        "请选择您的最高学历（根据通知要求，科技志愿者需具有高中及以上学历，初中及以下学历暂不能注册）：",
        parse=_education,
        choices=EDUCATION_LEVELS,
        hint="根据通知要求，科技志愿者需具有高中及以上学历。",
    ),
    Step(
        "prefecture_code",
        "所在市州",
        "请选择您所在的市州：",
        parse=_prefecture,
        choices=_prefecture_names,
        display=_show_region,
        resets=("county_code",),
        hint="甘肃省外的志愿者请选择「省外」。",
    ),
    Step(
        "county_code",
        "所在县区",
        "请选择您所在的县区：",
        parse=_county,
        choices=_county_names,
        when=_has_counties,
        when_label="市州有下辖县区",
        display=_show_county,
    ),
    Step(
        "employer",
        "工作单位",
        "请输入您的工作单位：",
        parse=_employer,
        optional=True,
        hint="如无工作单位或不便填写，可回复「跳过」。",
    ),
    Step("occupation", "职业/身份", "请选择您的职业或身份：", choices=OCCUPATIONS),
    Step(
        "skills",
        "专业领域",
        "请选择您的专业领域或技能（可多选）：",
        choices=SKILLS,
        multiple=True,
        hint="回复多个数字，用空格或顿号分开，例如「1 3 5」。",
    ),
    Step(
        "specialty",
        "专长",
        "请简要描述您的专长（如：果树栽培、青少年编程），不超过200字：",
        parse=_specialty,
        optional=True,
    ),
    Step(
        "service_times",
        "可服务时间",
        "请选择您方便参加志愿服务的时间（可多选）：",
        choices=SERVICE_TIMES,
        multiple=True,
    ),
)


# Settings the volunteer changes on their own (Volunteer.SETTING_COLUMNS): shown in 我的信息 and
# changed in 修改信息 like a field, never asked at registration (so they start off). The answer
# is kept as the option's text and saved as a yes/no column.
YES, NO = "是", "否"
SKILLS_VISIBLE_PROMPT = (
    "是否同意让科技志愿服务队和科协在为服务需求匹配志愿者时看到您的姓名、专业领域和可服务时间，"
    "并接收与您技能相符的需求通知？选「否」时只计入人数，不显示您的信息（默认为否）："
)
SETTING_STEPS: tuple[Step, ...] = (
    Step(
        "skills_visible",
        "技能对队伍可见",
        SKILLS_VISIBLE_PROMPT,
        choices=(YES, NO),
        hint="也可随时回复「同意展示技能」或「取消展示技能」。",
    ),
)


def setting_answer(step: Step, volunteer: Volunteer) -> str:
    return YES if getattr(volunteer, step.name) else NO


# Steps whose answers are not saved as they are: consent is recorded as a version and time, the
# ID number as its cipher, keyed hash and masked form. Every other step is a column of the
# volunteer, named like the step (tests/test_volunteer_form.py checks they agree).
NOT_COLUMNS = frozenset({"consent", "id_number"})
FORM_STEPS: tuple[Step, ...] = tuple(s for s in STEPS if s.name not in NOT_COLUMNS)
FORM_COLUMNS: tuple[str, ...] = tuple(s.name for s in FORM_STEPS)


def form_values(data: Data) -> dict[str, Any]:
    return {column: data.get(column) for column in FORM_COLUMNS}
