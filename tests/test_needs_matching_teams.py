"""Team suggestions when many teams share the best possible score: counted a chunk at a time by
joined members, most first, and still in exactly the order of counting every team."""

from __future__ import annotations

import random
from datetime import date

from sqlalchemy import insert, select

from infra.db import Database
from models.team import MEMBERSHIP_JOINED, MEMBERSHIP_LEFT, Membership, Team
from models.volunteer import Volunteer
from services.needs import NeedDraft, post_need
from services.needs_matching import CHUNK, SHOWN, suggest_teams
from tests.test_console_support import add_volunteers

NEED = NeedDraft(
    requester_name="秦州区某村",
    requester_kind="乡村",
    prefecture_code="620500",
    county_code="620502",
    field="农业技术",
    description="果树修剪",
    starts_on=date(2027, 3, 6),
    ends_on=date(2027, 3, 6),
    people_needed=4,
    contact_name="王强",
    contact_phone="13812345678",
)


def test_a_big_group_of_equal_teams_in_exact_order(db: Database) -> None:
    rng = random.Random(15)
    skilled = add_volunteers(db, 300, skills=("农业技术",))
    others = add_volunteers(db, 300, skills=("科学普及",))
    # Province teams, all with the same best possible score: the biggest (the first chunk
    # counted) have few members with the skill; the twenty with most are smaller ones, found
    # in the second chunk; the smallest come after it and cannot reach the twenty.
    sizes = [(100, 5, 12)] * (CHUNK + 10) + [(30, 20, 28)] * 37 + [(4, 1, 4)] * 40
    teams = len(sizes)
    expected: dict[int, int] = {}
    with db.Session.begin() as session:
        ids = dict(session.execute(select(Volunteer.openid, Volunteer.id)).all())
        rows = [
            {"team_no": f"T{i:06d}", "name": f"第{i}队", "name_key": f"k{i}", "kind": "unit",
             "level": "队", "prefecture_code": "620100", "invite_code": f"I{i:06d}",
             "status": "approved"}
            for i in range(teams)
        ]  # fmt: skip
        session.execute(insert(Team), rows)
        team_ids = list(session.scalars(select(Team.id).order_by(Team.id)))
        memberships = []
        for n, team_id in enumerate(team_ids):
            size, low, high = sizes[n]
            with_skill = rng.randint(low, high)
            chosen = rng.sample(skilled, with_skill) + rng.sample(others, size - with_skill)
            status = {o: rng.choice((MEMBERSHIP_JOINED,) * 5 + (MEMBERSHIP_LEFT,)) for o in chosen}
            memberships += [
                {"team_id": team_id, "volunteer_id": ids[o], "status": status[o]} for o in chosen
            ]
            expected[team_id] = sum(
                1 for o in chosen if o in set(skilled) and status[o] == MEMBERSHIP_JOINED
            )
        session.execute(insert(Membership), memberships)

    with db.Session.begin() as session:
        need = post_need(session, "oPoster", NEED)
        found = suggest_teams(session, need, need.created_at)

    order = sorted((t for t in expected if expected[t]), key=lambda t: (-expected[t], t))
    assert [s.id for s in found] == order[:SHOWN]
    assert [s.reasons[0] for s in found] == [
        f"{expected[t]} 名队员具备「农业技术」技能" for t in order[:SHOWN]
    ]
