"""Telling the poster how their need stands: a customer-service message through the API client.

Called after the change is committed; a WeChat failure is logged and reported, never raised
(the review stands whether or not the poster could be reached).
"""

from __future__ import annotations

import logging

from models.need import CLAIMED, DONE, MERGED, PUBLISHED, REJECTED, Need
from wechat.client import WeChatAPI
from wechat.errors import WeChatAPIError

log = logging.getLogger(__name__)

__all__ = ["status_text", "tell_poster"]


def status_text(need: Need, *, team_name: str | None = None, into_no: str | None = None) -> str:
    """What the poster is told about the need's current status."""
    head = f"您提交的需求 {need.need_no}（{need.requester_name}）"
    if need.status == PUBLISHED:
        return f"{head}已审核通过并发布，科技志愿服务队认领后会再通知您。"
    if need.status == REJECTED:
        return (
            f"{head}未通过审核。\n原因：{need.reject_reason or '未说明'}\n"
            "请按意见修改后，回复「提交需求」重新提交。"
        )
    if need.status == MERGED:
        return f"{head}与需求 {into_no or ''} 内容相同，已合并处理，进度请关注该需求。"
    if need.status == CLAIMED:
        return f"{head}已由「{team_name or '科技志愿服务队'}」认领，队伍会与联系人对接服务安排。"
    if need.status == DONE:
        return f"{head}的服务已完成，感谢您的信任！"
    return f"{head}当前状态：{need.status_label}。"


def tell_poster(api: WeChatAPI, need: Need, text: str) -> bool:
    """Send `text` to the poster; False when WeChat refused (outside the 48-hour window...)."""
    try:
        api.send_text(need.poster_openid, text)
        return True
    except WeChatAPIError as error:
        log.info("need %s: message to the poster failed errcode=%s", need.need_no, error.errcode)
        return False
