"""Team admins' state lives in the engine and the database, not in a Redis document of its own:
the rename is a flow (取消, 返回, 重新开始, timeout, 确认改名), the chosen team is remembered
with the admin."""

from __future__ import annotations

import json
from collections.abc import Callable

import redis

from config import Settings
from infra.db import Database
from services import teams
from tests.test_team_support import add_team, add_volunteer, seed_root
from tests.wechat_user import WeChatUser

TEAM = "甘肃省农学会科技志愿服务队"


def name_of(db: Database, team_id: int) -> str:
    with db.Session() as session:
        return teams.get(session, team_id).name


def conversation(redis_client: redis.Redis, settings: Settings, user: WeChatUser) -> dict:
    raw = redis_client.get(settings.redis_prefix + f"conv:{user.openid}")
    return json.loads(raw) if raw else {}


def test_rename_is_a_flow_that_cancel_ends(
    db: Database, wechat_user: WeChatUser, redis_client: redis.Redis, settings: Settings
) -> None:
    team = add_team(db, TEAM, registrant=wechat_user.openid)
    prompt = wechat_user.say("修改队名")
    assert f"现在的队名：「{TEAM}」" in prompt
    assert conversation(redis_client, settings, wechat_user)["flow"] == "team_rename"
    summary = wechat_user.say("甘肃省农业学会")
    assert "新队名：「甘肃省农业学会科技志愿服务队」" in summary
    assert "已取消「修改队名」" in wechat_user.say("取消")
    assert "没有待确认的改名" in wechat_user.say("确认改名")
    assert name_of(db, team.id) == TEAM


def test_rename_back_restart_and_plain_confirm(db: Database, wechat_user: WeChatUser) -> None:
    team = add_team(db, TEAM, registrant=wechat_user.openid)
    wechat_user.say("修改队名 甘肃省农业学会")
    back = wechat_user.say("返回")
    assert "已返回上一步" in back and f"现在的队名：「{TEAM}」" in back
    wechat_user.say("甘肃省植物学会")
    assert "从头开始" in wechat_user.say("重新开始")  # the team is kept, only the answer goes
    assert "甘肃省作物学会科技志愿服务队" in wechat_user.say("甘肃省作物学会")
    assert "改名成功" in wechat_user.say("确认")
    assert name_of(db, team.id) == "甘肃省作物学会科技志愿服务队"


def test_rename_times_out_like_every_flow(
    db: Database, wechat_user: WeChatUser, redis_client: redis.Redis, settings: Settings
) -> None:
    team = add_team(db, TEAM, registrant=wechat_user.openid)
    wechat_user.say("修改队名 甘肃省农业学会")
    key = settings.redis_prefix + f"conv:{wechat_user.openid}"
    doc = conversation(redis_client, settings, wechat_user)
    doc["expires_at"] = 0
    redis_client.set(key, json.dumps(doc))
    assert "超时" in wechat_user.say("确认改名")
    assert name_of(db, team.id) == TEAM


def test_a_removed_admin_cannot_finish_a_rename(
    app: object, db: Database, wechat_user: WeChatUser, make_user: Callable[..., WeChatUser]
) -> None:
    add_volunteer(app, wechat_user.openid)  # type: ignore[arg-type]
    team = add_team(db, TEAM, registrant=wechat_user.openid, captain=("张三", "13812345678"))
    other = make_user()
    number = add_volunteer(app, other.openid, name="吴六")  # type: ignore[arg-type]
    wechat_user.say(f"添加管理员 {number}")
    other.say("修改队名 甘肃省农业学会")
    wechat_user.say(f"移除管理员 {number}")
    assert "已不是该队伍的管理员" in other.say("确认改名")
    assert name_of(db, team.id) == TEAM


def test_the_chosen_team_is_kept_with_the_admin_not_in_redis(
    db: Database, wechat_user: WeChatUser, redis_client: redis.Redis, settings: Settings
) -> None:
    seed_root(db)
    add_team(db, TEAM, registrant=wechat_user.openid)
    add_team(db, "兰州大学科技志愿服务队", kind="unit", registrant=wechat_user.openid)
    assert "您管理 2 支队伍" in wechat_user.say("成员列表")
    wechat_user.say("选择队伍 2")
    assert "「兰州大学科技志愿服务队」还没有成员" in wechat_user.say("成员列表")
    assert "新队名：「兰州理工大学科技志愿服务队」" in wechat_user.say("修改队名 兰州理工大学")
    wechat_user.say("取消")
    wechat_user.say("选择队伍 1")
    assert f"「{TEAM}」还没有成员" in wechat_user.say("成员列表")
    keys = [k.decode() for k in redis_client.scan_iter(match=settings.redis_prefix + "*")]
    assert not [k for k in keys if "team" in k], keys
