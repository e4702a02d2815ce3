"""「通知这些志愿者」: from a need's suggestions, one template notice through the notice pipeline
whose audience is the need's matched set (skill matches, agreed to show skills, follows, in the
notice's scope); the count is shown before sending; the worker sends to exactly those openids.
Operators outside the need's region and teams neither paired nor suggested are refused."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from domain.errors import ValidationError
from infra.db import Database
from models.need import CLAIMED, PUBLISHED, Need, Pairing
from models.notice import Notice
from models.operator import AuditEntry
from models.team import Team
from sandbox.fake_wechat import FakeWeChatState
from services import needs_notices, notices
from services.operators import Scope
from tests.needs_notify_support import FIELD, matched_need, operator, published_need
from tests.team_console_steps import log_in, page_text, submit, team_admin
from tests.test_console_support import (
    REMINDER_DATA,
    add_team,
    add_template,
    compose,
    compose_data,
    csrf_token,
    join_team,
    notice_queue,  # noqa: F401  (fixture)
    recipient_count,
)
from tests.test_needs_matching import volunteer
from worker.jobs import run_notice


def sent_to(fake: FakeWeChatState, openids: list[str]) -> Counter[str]:
    return Counter({o: len(fake.messages(o)) for o in openids if fake.messages(o)})


def test_an_operator_notifies_the_matched_set_through_the_pipeline(
    app: Flask,
    db: Database,
    fake_wechat: FakeWeChatState,
    notice_queue: Any,  # noqa: F811
) -> None:
    template, people, need_id = matched_need(db)
    client = operator(app, db, "oplanzhou", "region:620100")

    page = client.get(f"/console/needs/{need_id}/suggestions").get_data(as_text=True)
    assert "通知这些志愿者" in page
    assert re.search(r'id="notify-count">2<', page), "two consenting followers in 兰州市"
    link = f"/console/notices/new?need={need_id}&template={template}"
    assert f'href="/console/notices/new?need={need_id}"' in page
    assert "匹配志愿者" in client.get(link).get_data(as_text=True)

    fields = compose_data(template, need=str(need_id))
    preview = compose(client, fields)
    assert recipient_count(preview.data) == 2
    assert "匹配需求 XQ" in preview.get_data(as_text=True)
    # Narrowed to the need's 县区: only the volunteer there.
    narrowed = compose(client, compose_data(template, need=str(need_id), region="620102"))
    assert recipient_count(narrowed.data) == 1

    sent = compose(client, fields, action="send", expected="2")
    assert sent.status_code == 302, sent.get_data(as_text=True)[:2000]
    with db.Session() as session:
        notice = session.scalars(select(Notice)).one()
        assert notice.audience["need_id"] == need_id
        assert notice.audience_text.startswith("甘肃省兰州市 · 匹配需求")
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "notice_send")).one()
        assert entry.actor == "oplanzhou" and "匹配需求" in entry.summary
    with app.app_context():
        assert run_notice(notice.id) == "done"
    everyone = people["province"] + people["never"]
    assert sent_to(fake_wechat, everyone) == Counter(dict.fromkeys(people["lanzhou"], 1))
    message = fake_wechat.messages(people["lanzhou"][0])[0]
    assert message["data"] == REMINDER_DATA


def test_province_operators_reach_the_whole_matched_set(
    app: Flask,
    db: Database,
    notice_queue: Any,  # noqa: F811
) -> None:
    template, people, need_id = matched_need(db)
    client = operator(app, db, "sheng", "province")
    preview = compose(client, compose_data(template, need=str(need_id)))
    assert recipient_count(preview.data) == len(people["province"])


def test_operators_outside_the_region_and_unpublished_needs_are_refused(
    app: Flask,
    db: Database,
    notice_queue: Any,  # noqa: F811
) -> None:
    template, _, need_id = matched_need(db)
    pending_id = published_need(db, publish=False)
    client = operator(app, db, "optianshui", "region:620500")
    assert client.get(f"/console/notices/new?need={need_id}").status_code == 404
    token_page = f"/console/notices/new?template={template}"
    token = csrf_token(client, token_page)
    refused = client.post(
        "/console/notices/new",
        data={
            "csrf_token": token,
            "action": "send",
            "expected": "2",
            **compose_data(template, need=str(need_id)),
        },
    )
    assert refused.status_code == 404
    lanzhou = operator(app, db, "oplanzhou", "region:620100")
    assert lanzhou.get(f"/console/notices/new?need={pending_id}").status_code == 404
    with db.Session() as session:
        assert session.scalars(select(Notice)).all() == []
        # The rule holds below the console too: the draft is checked against the scope.
        with pytest.raises(notices.DraftError) as refused_draft:
            notices.check_draft(
                session,
                Scope.for_region("620500"),
                template_pk=template,
                data=REMINDER_DATA,
                url=None,
                audience=notices.Audience(need_id=need_id),
            )
        assert "本辖区" in refused_draft.value.errors["audience"]


def test_a_paired_team_admin_notifies_the_matched_set_of_the_need(
    app: Flask,
    db: Database,
    make_user: Any,
    fake_wechat: FakeWeChatState,
    notice_queue: Any,  # noqa: F811
) -> None:
    template, people, need_id = matched_need(db)
    admin = team_admin(app, make_user)  # 甘肃省农学会, no member with the skill: not suggested
    outsider = team_admin(app, make_user, "甘肃省作物学会科技志愿服务队", name="李管理")
    log_in(admin)
    notify = f"/team/t/{admin.team.id}/needs/{need_id}/notify"
    assert admin.client.get(notify).status_code == 404
    assert "目前没有" in page_text(admin.client, f"/team/t/{admin.team.id}/need-notices")

    with db.Session.begin() as session:
        session.add(Pairing(team_id=admin.team.id, county_code="620102", created_by="sheng"))
    listing = page_text(admin.client, f"/team/t/{admin.team.id}/need-notices")
    assert "通知匹配志愿者" in listing and "目前没有" not in listing
    page = page_text(admin.client, f"{notify}?template={template}")
    assert "接收人数：<strong>2</strong>" in page  # the need's 市州: 兰州市
    values = {f"data-{k}": v for k, v in REMINDER_DATA.items()}
    form = {"template": str(template), "region": "", **values}
    checked = submit(admin.client, f"{notify}?template={template}", notify, form)
    assert 'id="send-button"' in checked.get_data(as_text=True)
    done = submit(
        admin.client,
        f"{notify}?template={template}",
        notify,
        {**form, "action": "send", "expected": "2"},
    )
    assert "通知已加入发送队列" in done.get_data(as_text=True)
    with db.Session() as session:
        notice = session.scalars(select(Notice)).one()
        assert (notice.prefecture_code, notice.audience["need_id"]) == ("620100", need_id)
        actions = set(session.scalars(select(AuditEntry.action)))
        assert {"notice_send", "team_need_notice"} <= actions
    with app.app_context():
        assert run_notice(notice.id) == "done"
    everyone = people["province"] + people["never"]
    assert sent_to(fake_wechat, everyone) == Counter(dict.fromkeys(people["lanzhou"], 1))

    log_in(outsider)
    assert outsider.client.get(
        f"/team/t/{outsider.team.id}/needs/{need_id}/notify"
    ).status_code == (404)


def test_a_suggested_team_may_notify_and_a_switched_off_team_may_not(db: Database) -> None:
    template = add_template(db)
    need_id = published_need(db)
    suggested = add_team(db, "甘肃省地震学会科技志愿服务队")
    paired = add_team(db, "甘肃省气象学会科技志愿服务队")
    unrelated = add_team(db, "甘肃省作物学会科技志愿服务队")
    join_team(db, suggested, [volunteer(db, "甲", "620100", "620102", (FIELD,), ("周末",))])
    join_team(db, unrelated, [volunteer(db, "乙", "620100", "620102", ("科学普及",), ("周末",))])
    with db.Session.begin() as session:
        session.add(Pairing(team_id=paired, county_code="620102", created_by="sheng"))
    with db.Session.begin() as session:
        need = session.get(Need, need_id)
        assert need is not None
        teams = {t: session.get(Team, t) for t in (suggested, paired, unrelated)}
        may = {t: needs_notices.team_may_notify(session, team, need) for t, team in teams.items()}
        assert may == {suggested: True, paired: True, unrelated: False}
        # Once claimed, only the claiming team may notify about it.
        need.status, need.claimed_team_id = CLAIMED, unrelated
        may = {t: needs_notices.team_may_notify(session, team, need) for t, team in teams.items()}
        assert may == {suggested: False, paired: False, unrelated: True}
        assert [n.id for n in needs_notices.needs_for_team(session, teams[unrelated])] == [need_id]
        assert needs_notices.needs_for_team(session, teams[paired]) == []
        need.status, need.claimed_team_id = PUBLISHED, None
        with pytest.raises(ValidationError, match="未结对"):
            needs_notices.check_team_may_notify(session, teams[unrelated], need)
        teams[paired].notices_allowed = False
        with pytest.raises(ValidationError, match="关闭"):
            needs_notices.team_draft(
                session,
                teams[paired],
                need,
                template_pk=template,
                data=REMINDER_DATA,
                url=None,
                region=None,
            )
        with pytest.raises(ValidationError, match="只能选择需求所在"):
            needs_notices.team_draft(
                session,
                teams[suggested],
                need,
                template_pk=template,
                data=REMINDER_DATA,
                url=None,
                region="620502",
            )


def test_the_cli_sends_to_a_need_s_matched_set(
    runner: Any,
    db: Database,
    notice_queue: Any,  # noqa: F811
) -> None:
    _, people, need_id = matched_need(db)
    args = ["notice", "send", "--template", "kjzyActivityReminder00000000000000000000002"]
    for key, value in REMINDER_DATA.items():
        args += ["--data", f"{key}={value}"]
    result = runner.invoke(args=[*args, "--audience", f"need={need_id}", "--yes"])
    assert result.exit_code == 0, result.output
    assert "匹配需求 XQ" in result.output
    assert f"共 {len(people['province'])} 人" in result.output
