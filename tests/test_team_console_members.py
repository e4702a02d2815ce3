"""成员 in the team console: join requests approved and refused (the volunteer is told), the
masked, searchable list with hours, removal with a reason, admins within the size-based limit,
the .xlsx export, sub-team approvals, and the audit trail."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from infra.db import Database
from models.operator import AuditEntry
from models.team import MEMBERSHIP_JOINED, MEMBERSHIP_LEFT, MEMBERSHIP_REJECTED, Membership
from sandbox.fake_wechat import FakeWeChatState
from services import team_console_members, teams, volunteers
from services.reports_export import XLSX_MIME
from tests.team_console_steps import Admin, log_in, page_text, submit, team_admin, xlsx_rows
from tests.test_console_support import add_volunteers, join_team
from tests.test_team_support import add_team, add_volunteer
from tests.wechat_user import WeChatUser

MakeUser = Callable[..., WeChatUser]


def applicant(app: Flask, make_user: MakeUser, admin: Admin, name: str) -> WeChatUser:
    user = make_user()
    add_volunteer(app, user.openid, name=name, phone="13700001234", skills=("农业技术",))
    assert "已提交" in user.say(f"加入 {admin.team.invite_code}")
    return user


def membership(db: Database, team_id: int, openid: str) -> str:
    with db.Session() as session:
        volunteer = volunteers.find_by_openid(session, openid)
        assert volunteer is not None
        found = session.query(Membership).filter_by(team_id=team_id, volunteer_id=volunteer.id)
        return found.one().status


def volunteer_id(db: Database, openid: str) -> int:
    with db.Session() as session:
        volunteer = volunteers.find_by_openid(session, openid)
        assert volunteer is not None
        return volunteer.id


def last_text(fake_wechat: FakeWeChatState, openid: str) -> str:
    return str(fake_wechat.messages(openid)[-1].get("content", ""))


def test_approve_and_refuse_join_requests(
    app: Flask, db: Database, make_user: MakeUser, fake_wechat: FakeWeChatState
) -> None:
    admin = team_admin(app, make_user)
    first = applicant(app, make_user, admin, "刘一")
    second = applicant(app, make_user, admin, "刘二")
    log_in(admin)
    page = f"/team/t/{admin.team.id}/members"
    text = page_text(admin.client, page)
    assert "待审核的入队申请（2）" in text and "137****1234" in text and "农业技术" in text
    with db.Session() as session:
        ids = [m.membership_id for m in teams.join_requests(session, admin.team.id)]

    done = submit(admin.client, page, f"/team/t/{admin.team.id}/requests/{ids[0]}/approve")
    assert "已通过 刘一 的入队申请" in done.data.decode()
    done = submit(admin.client, page, f"/team/t/{admin.team.id}/requests/{ids[1]}/reject")
    assert "已拒绝 刘二 的入队申请" in done.data.decode()
    assert membership(db, admin.team.id, first.openid) == MEMBERSHIP_JOINED
    assert membership(db, admin.team.id, second.openid) == MEMBERSHIP_REJECTED
    assert "已通过审核" in last_text(fake_wechat, first.openid)
    assert "未通过您的入队申请" in last_text(fake_wechat, second.openid)
    # Deciding again is refused politely.
    again = submit(admin.client, page, f"/team/t/{admin.team.id}/requests/{ids[0]}/approve")
    assert "该入队申请不存在或已处理" in again.data.decode()
    with db.Session() as session:
        entries = session.query(AuditEntry).filter(AuditEntry.action.like("team_join%")).all()
    assert {e.action for e in entries} == {"team_join_approve", "team_join_reject"}
    assert all(e.actor == f"队管:{admin.volunteer_no}@{admin.team.team_no}" for e in entries)
    assert all(e.detail and e.detail["team_id"] == admin.team.id for e in entries)


def test_member_list_is_masked_searchable_and_filtered(
    app: Flask, db: Database, make_user: MakeUser
) -> None:
    admin = team_admin(app, make_user)
    farmers = add_volunteers(db, 3, skills=("农业技术",), name="农技员", phone="13911112222")
    doctors = add_volunteers(db, 2, skills=("医疗卫生",), name="医生", phone="13933334444")
    join_team(db, admin.team.id, farmers + doctors)
    log_in(admin)
    page = f"/team/t/{admin.team.id}/members"
    text = page_text(admin.client, page)
    assert "成员 6 人" in text and "共 6 人" in text
    assert "139****2222" in text and "13911112222" not in text
    assert "6201**********123X" in text
    assert "0 小时" in text

    only_doctors = page_text(admin.client, page + "?skill=医疗卫生")
    assert "共 2 人" in only_doctors and "农技员" not in only_doctors
    by_name = page_text(admin.client, page + "?q=农技员")
    assert "共 3 人" in by_name and "医生" not in by_name


def test_remove_a_member_with_a_reason(
    app: Flask, db: Database, make_user: MakeUser, fake_wechat: FakeWeChatState
) -> None:
    admin = team_admin(app, make_user)
    member = applicant(app, make_user, admin, "钱三")
    with db.Session.begin() as session:
        teams.approve_member(session, teams.join_requests(session, admin.team.id)[0].membership_id)
    log_in(admin)
    page = f"/team/t/{admin.team.id}/members"
    target = volunteer_id(db, member.openid)
    action = f"/team/t/{admin.team.id}/members/{target}/remove"
    assert "请填写移除的原因" in submit(admin.client, page, action, {"reason": " "}).data.decode()
    assert membership(db, admin.team.id, member.openid) == MEMBERSHIP_JOINED

    done = submit(admin.client, page, action, {"reason": "长期未参加活动"})
    assert "已将 钱三 移出本队，并已通知本人" in done.data.decode()
    assert membership(db, admin.team.id, member.openid) == MEMBERSHIP_LEFT
    told = last_text(fake_wechat, member.openid)
    assert "移出队伍" in told and "长期未参加活动" in told
    # The admin cannot be removed while an admin.
    own = volunteer_id(db, admin.user.openid)
    refused = submit(
        admin.client, page, f"/team/t/{admin.team.id}/members/{own}/remove", {"reason": "x"}
    )
    assert "请先取消其管理员身份" in refused.data.decode()


def test_admins_within_the_size_based_limit(
    app: Flask, db: Database, make_user: MakeUser, fake_wechat: FakeWeChatState
) -> None:
    assert [team_console_members.admin_limit(n) for n in (1, 100, 101, 200, 201, 301, 401, 900)] == [
        1, 1, 2, 2, 3, 4, 5, 5,
    ]  # fmt: skip
    admin = team_admin(app, make_user)
    deputy = applicant(app, make_user, admin, "孙四")
    with db.Session.begin() as session:
        teams.approve_member(session, teams.join_requests(session, admin.team.id)[0].membership_id)
    log_in(admin)
    page = f"/team/t/{admin.team.id}/members"
    action = f"/team/t/{admin.team.id}/members/{volunteer_id(db, deputy.openid)}/admin"
    refused = submit(admin.client, page, action, {"on": "1"})
    # The registrant registered for another captain: they are the one 管理员 of 2 members.
    assert "本队现有成员2人，除队长外可设管理员1名，已达上限" in refused.data.decode()

    join_team(db, admin.team.id, add_volunteers(db, 99))  # 101 members: 2 admins
    done = submit(admin.client, page, action, {"on": "1"})
    assert "已将 孙四 设为管理员" in done.data.decode()
    assert "您已被设为" in last_text(fake_wechat, deputy.openid)
    with db.Session() as session:
        assert teams.is_admin(session, admin.team.id, deputy.openid)
    done = submit(admin.client, page, action, {"on": "0"})
    assert "已取消 孙四 的管理员身份" in done.data.decode()


def test_members_export_is_masked_one_row_per_person(
    app: Flask, db: Database, make_user: MakeUser
) -> None:
    admin = team_admin(app, make_user)
    join_team(db, admin.team.id, add_volunteers(db, 3, phone="13955556666", name="导出"))
    log_in(admin)
    answer = admin.client.get(f"/team/t/{admin.team.id}/members.xlsx")
    assert answer.status_code == 200 and answer.mimetype == XLSX_MIME
    rows = xlsx_rows(answer.data)
    assert rows[0][:4] == ["志愿者编号", "姓名", "手机号", "身份证号"]
    assert len(rows) == 1 + 4  # the admin and three volunteers
    assert all("13955556666" not in cell for row in rows for cell in row)
    assert sum(row[2] == "139****6666" for row in rows) == 3
    assert all("*" in row[3] for row in rows[1:])


def test_sub_team_registrations_are_decided_by_the_team_above(
    app: Flask, db: Database, make_user: MakeUser, fake_wechat: FakeWeChatState
) -> None:
    admin = team_admin(app, make_user)
    branch_admin = make_user()
    branch = add_team(
        db,
        f"{admin.team.name}植物保护专委会支队",
        kind="committee",
        parent_id=admin.team.id,
        registrant=branch_admin.openid,
        approved=False,
    )
    other_admin = make_user()
    other = add_team(
        db,
        f"{admin.team.name}土壤专委会支队",
        kind="committee",
        parent_id=admin.team.id,
        registrant=other_admin.openid,
        approved=False,
    )
    log_in(admin)
    page = f"/team/t/{admin.team.id}/subteams"
    text = page_text(admin.client, page)
    assert "植物保护专委会支队" in text and "审核通过" in text
    done = submit(admin.client, page, f"{page}/{branch.id}/approve")
    assert "已通过" in done.data.decode()
    refused = submit(admin.client, page, f"{page}/{other.id}/reject", {"reason": "名称不规范"})
    assert "已驳回" in refused.data.decode()
    with db.Session() as session:
        assert teams.get(session, branch.id).status == "approved"
        assert teams.get(session, other.id).reject_reason == "名称不规范"
    assert "通过" in last_text(fake_wechat, branch_admin.openid)
    # The team above now manages the approved 支队's members too.
    assert page_text(admin.client, f"/team/t/{branch.id}/members")
    # The 支队's admin cannot reach the team above.
    below = Admin(branch_admin, branch, "—", app.test_client())
    add_volunteer(app, branch_admin.openid, name="支队长")
    log_in(below)
    assert below.client.get(f"/team/t/{admin.team.id}/members").status_code == 404
    assert below.client.get(f"/team/t/{admin.team.id}/subteams").status_code == 404
