"""我的信息 shows 「技能对队伍可见：是/否」 (off by default); 修改信息 switches it with the same
engine as the other fields, and the keywords 技能展示 / 同意展示技能 / 取消展示技能 still work."""

from __future__ import annotations

from sqlalchemy import select

from infra.db import Database
from models import Volunteer
from tests import volunteer_steps as steps
from tests.wechat_user import WeChatUser


def _visible(db: Database) -> bool:
    with db.Session() as session:
        return session.scalars(select(Volunteer.skills_visible)).one()


def test_the_consent_line_in_the_profile_and_switching_it(
    wechat_user: WeChatUser, db: Database
) -> None:
    steps.register(wechat_user)
    assert "技能对队伍可见：否" in wechat_user.click("VOLUNTEER_PROFILE")
    assert _visible(db) is False

    choose = wechat_user.say("修改信息")
    assert "技能对队伍可见" in choose
    prompt = wechat_user.say("技能对队伍可见")
    assert "匹配志愿者" in prompt and "1. 是" in prompt and "2. 否" in prompt
    assert "请回复选项前的数字（1-2）" in wechat_user.say("也许")  # not an option: asked again
    summary = wechat_user.say("1")
    assert "请核对修改内容" in summary and "技能对队伍可见：是" in summary
    assert _visible(db) is False  # nothing saved before 确认
    done = wechat_user.say("确认")
    assert "修改成功" in done and "技能对队伍可见：是" in done
    assert _visible(db) is True

    # The keywords keep working and the profile follows them.
    assert "已撤回" in wechat_user.say("取消展示技能")
    assert _visible(db) is False
    assert "技能对队伍可见：否" in wechat_user.say("我的信息")
    assert "未同意" in wechat_user.say("技能展示")
    assert "已同意" in wechat_user.say("同意展示技能")
    assert "技能对队伍可见：是" in wechat_user.say("我的信息")

    # Switching it off again in 修改信息, by the option's text.
    wechat_user.say("修改信息")
    wechat_user.say("技能对队伍可见")
    assert "技能对队伍可见：否" in wechat_user.say("否")
    wechat_user.say("确认")
    assert _visible(db) is False


def test_registration_does_not_ask_and_leaves_it_off(wechat_user: WeChatUser, db: Database) -> None:
    summary = steps.answer_until(wechat_user)
    assert "技能对队伍可见" not in summary
    assert "注册成功" in wechat_user.say("确认")
    assert _visible(db) is False
