"""Registrations at once in one 县区 on one day: every 确认 saves its volunteer.

Each registration adds to the same rows of the report rollups and the audience counters (one
县区, one Beijing day), inside the registration's transaction. Those rows must not turn a burst
of registrations into refusals (a lock wait or a deadlock shown to the user as 系统繁忙).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import func, select

from infra.db import Database
from models.volunteer import Volunteer
from tests.test_team_support import id_number
from tests.volunteer_steps import answer_until
from tests.wechat_user import WeChatUser

USERS = 20


def test_a_burst_of_confirmations_in_one_county_saves_every_volunteer(
    make_user: Callable[..., WeChatUser], db: Database
) -> None:
    users = [make_user() for _ in range(USERS)]
    for user in users:
        answer_until(user, id_number=id_number())
    barrier = threading.Barrier(USERS)
    replies: dict[str, str] = {}

    def confirm(user: WeChatUser) -> None:
        barrier.wait()
        replies[user.openid] = user.say("确认")

    threads = [threading.Thread(target=confirm, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    refused = {openid: reply for openid, reply in replies.items() if "注册成功" not in reply}
    assert not refused
    with db.Session() as session:
        saved = session.scalar(select(func.count()).select_from(Volunteer))
    assert saved == USERS
