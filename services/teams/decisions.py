"""Telling a team's registrant about the operators' decision."""

from __future__ import annotations

import logging

from domain import clock
from domain.text import clip
from models.base import utcnow
from models.team import (
    STATUS_APPROVED,
    Team,
)
from wechat.client import WeChatAPI
from wechat.errors import WeChatAPIError

log = logging.getLogger(__name__)


# -- notifying the registrant -------------------------------------------------------------


def decision_text(team: Team) -> str:
    if team.status == STATUS_APPROVED:
        return (
            f"您注册的「{team.name}」已通过审核！\n"
            f"队伍编号：{team.team_no}\n邀请码：{team.invite_code}\n\n"
            f"志愿者回复「加入 {team.invite_code}」即可申请入队。"
            "点击「组织 → 我的队伍」查看队伍、审核入队申请。"
        )
    return (
        f"很抱歉，您注册的「{team.name}」未通过审核。\n原因：{team.reject_reason or '未说明'}\n\n"
        "该名称已释放。请按意见修改后，点击「组织 → 注册」重新提交。"
    )


def deliver_decision(api: WeChatAPI, team: Team, *, template_id: str | None = None) -> str:
    """Tell the registrant about the decision: a customer-service message, else (outside the
    48-hour window, say) a template message when `template_id` is configured.

    Returns how it went: "text", "template", "no-registrant" or "failed". Never raises for
    WeChat errors: the decision is already saved.
    """
    openid = team.registrant_openid
    if not openid:
        return "no-registrant"
    approved = team.status == STATUS_APPROVED
    return deliver(
        api,
        openid,
        decision_text(team),
        team=team,
        template_id=template_id,
        template_data={
            "thing1": clip(team.name, 20),
            "phrase2": "审核通过" if approved else "未通过",
            "time3": clock.show((team.approved_at if approved else team.updated_at) or utcnow()),
            "thing4": clip(
                "点击我的队伍查看" if approved else (team.reject_reason or "请修改后重新提交"), 20
            ),
        },
        client_msg_id=f"team-{team.id}-{team.status}",
    )


def deliver(
    api: WeChatAPI,
    openid: str,
    text: str,
    *,
    team: Team,
    template_id: str | None,
    template_data: dict[str, str],
    client_msg_id: str,
) -> str:
    """One team notice to one person: a customer-service message, else the template
    (TEAM_NOTICE_TEMPLATE_ID) with `template_data`. Returns "text", "template" or "failed";
    never raises for WeChat errors (what it tells of is already saved)."""
    try:
        api.send_text(openid, text)
        return "text"
    except WeChatAPIError as error:
        log.info(
            "team notice: customer-service message failed team=%s errcode=%s",
            team.team_no,
            error.errcode,
        )
    if not template_id:
        log.warning(
            "team notice not delivered team=%s: no template fallback configured "
            "(TEAM_NOTICE_TEMPLATE_ID)",
            team.team_no,
        )
        return "failed"
    try:
        api.send_template(openid, template_id, template_data, client_msg_id=client_msg_id)
        return "template"
    except WeChatAPIError as error:
        log.warning(
            "team notice not delivered team=%s: template failed errcode=%s",
            team.team_no,
            error.errcode,
        )
        return "failed"


def notify_decision(api: WeChatAPI, team: Team, *, template_id: str | None = None) -> None:
    deliver_decision(api, team, template_id=template_id)
