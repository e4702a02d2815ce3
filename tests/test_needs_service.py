"""Needs: posting stores a 待审核 need with an XQ number; the region's operators publish, send
back with a reason, or merge duplicates; the public view masks the contact."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from domain.errors import ValidationError
from infra.db import Database
from models.need import MERGED, PENDING, PUBLISHED, REJECTED
from services.needs import (
    NeedDraft,
    NeedError,
    find_need,
    merge_need,
    pending_needs,
    post_need,
    public_need,
    publish_need,
    reject_need,
)
from services.operators import Scope

LANZHOU = "620100"
CHENGGUAN = "620102"
TIANSHUI = "620500"

DRAFT = NeedDraft(
    requester_name="城关区东岗街道东岗社区",
    requester_kind="社区",
    prefecture_code=LANZHOU,
    county_code=CHENGGUAN,
    field="应急安全",
    description="给社区老人讲防电信诈骗和用电安全",
    starts_on=date(2026, 12, 5),
    ends_on=date(2026, 12, 20),
    people_needed=3,
    contact_name="李红梅",
    contact_phone="138 1234 5678",
)


def test_a_posted_need_waits_for_review_with_a_number(db: Database) -> None:
    with db.Session.begin() as session:
        first = post_need(session, "o-poster", DRAFT)
        second = post_need(session, "o-poster", replace(DRAFT, starts_on=None, ends_on=None))
    assert first.status == PENDING
    assert first.need_no.startswith("XQ") and first.need_no[2:].isdigit()
    assert int(second.need_no[-4:]) == int(first.need_no[-4:]) + 1
    assert first.contact_phone == "13812345678"
    view = public_need(second)
    assert view.when == "长期"
    assert view.contact == "李** 138****5678"
    assert "13812345678" not in repr(view)
    assert view.region == "兰州市城关区"


@pytest.mark.parametrize(
    ("change", "hint"),
    [
        ({"requester_kind": "机关"}, "需求方类型"),
        ({"field": "烹饪"}, "服务领域"),
        ({"county_code": "620502"}, "县区不属于所选市州"),
        ({"ends_on": date(2026, 12, 1)}, "结束日期不能早于开始日期"),
        ({"people_needed": 0}, "需要人数"),
        ({"contact_phone": "0931-1234567"}, "座机"),
    ],
)
def test_bad_fields_are_refused_with_a_hint(
    db: Database, change: dict[str, object], hint: str
) -> None:
    with db.Session.begin() as session, pytest.raises(ValidationError, match=hint):
        post_need(session, "o-poster", replace(DRAFT, **change))  # type: ignore[arg-type]


def test_operators_of_the_region_publish_reject_and_merge(db: Database) -> None:
    with db.Session.begin() as session:
        a = post_need(session, "o-a", DRAFT)
        b = post_need(session, "o-b", DRAFT)
        c = post_need(session, "o-c", DRAFT)
        numbers = (a.need_no, b.need_no, c.need_no)
    tianshui, lanzhou = Scope.for_region(TIANSHUI), Scope.for_region(LANZHOU)
    with db.Session.begin() as session:
        assert pending_needs(session, tianshui) == []
        assert [n.need_no for n in pending_needs(session, lanzhou)] == list(numbers)
        a, b, c = (find_need(session, number) for number in numbers)  # type: ignore[misc]
        assert a is not None and b is not None and c is not None
        with pytest.raises(NeedError, match="不在你的辖区"):
            publish_need(a, tianshui, "tianshui")
        publish_need(a, lanzhou, "lanzhou")
        with pytest.raises(NeedError, match="退回原因"):
            reject_need(b, lanzhou, "lanzhou", "  ")
        reject_need(b, lanzhou, "lanzhou", "联系电话无法接通")
        merge_need(c, a, lanzhou, "lanzhou")
        with pytest.raises(NeedError, match="已发布"):
            publish_need(a, lanzhou, "lanzhou")
    with db.Session() as session:
        a, b, c = (find_need(session, number) for number in numbers)  # type: ignore[misc]
        assert a is not None and b is not None and c is not None
        assert (a.status, b.status, c.status) == (PUBLISHED, REJECTED, MERGED)
        assert a.published_at is not None
        assert b.reject_reason == "联系电话无法接通"
        assert c.merged_into_id == a.id
