"""Needs (供需对接) in the dashboard and as an .xlsx list, within an operator's scope.

Posted: every need submitted (merged duplicates left out), dated by its submission. Served: the
needs marked 服务完成, dated by the day they were done. Times are stored UTC, grouped and shown
as Beijing dates (domain.clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from domain import clock
from domain.contact import mask_mobile
from models.need import DONE, MERGED, STATUS_LABELS, Need
from models.team import Team
from services.reports import Figure, Filters, Row, area_level, area_rows, beijing_month, month_link
from services.reports_export import Listing
from services.reports_lists import region_text, stream


def need_conditions(filters: Filters, served: bool) -> list[ColumnElement[bool]]:
    """Posted needs (by submission time) or served ones (by the time they were done)."""
    found = [filters.within(Need.prefecture_code, Need.county_code)]
    if served:
        return [*found, Need.status == DONE, *filters.dates(Need.done_at)]
    return [*found, Need.status != MERGED, *filters.dates(Need.created_at)]


def _served_link(served: bool) -> dict[str, str]:
    return {"served": "1"} if served else {}


def needs_by_month(session: Session, filters: Filters, served: bool) -> Figure:
    month = beijing_month(session, Need.done_at if served else Need.created_at)
    found = session.execute(
        select(month, func.count())
        .where(*need_conditions(filters, served))
        .group_by(month)
        .order_by(month)
    ).all()
    rows = [Row(m, n, {**month_link(m), **_served_link(served)}) for m, n in found if m]
    if served:
        return Figure("needs_served_month", "服务完成的需求（按月）", "line", "项", rows, "needs")
    return Figure("needs_month", "发布的需求（按月）", "line", "项", rows, "needs")


def needs_by_area(session: Session, filters: Filters, served: bool) -> Figure:
    level = area_level(filters)
    column = Need.prefecture_code if level == "prefecture" else Need.county_code
    found = dict(
        session.execute(
            select(column, func.count()).where(*need_conditions(filters, served)).group_by(column)
        ).all()
    )
    rows = [
        Row(r.label, r.value, {**r.link, **_served_link(served)}, r.area)
        for r in area_rows(found, level, filters)
    ]
    by = "按市州" if level == "prefecture" else "按县区"
    chart = "map" if level == "prefecture" else "bar"
    if served:
        return Figure("needs_served_area", f"服务完成的需求（{by}）", chart, "项", rows, "needs")
    return Figure("needs_area", f"发布的需求（{by}）", chart, "项", rows, "needs")


def need_figures(session: Session, filters: Filters) -> list[Figure]:
    return [
        needs_by_month(session, filters, served=False),
        needs_by_month(session, filters, served=True),
        needs_by_area(session, filters, served=False),
        needs_by_area(session, filters, served=True),
    ]


def need_listing(session: Session, conditions: list[ColumnElement[bool]], *, full: bool) -> Listing:
    """The needs list (services.needs_list's filters) as an .xlsx Listing; the contact phone
    masked unless `full`."""
    query = (
        select(
            Need.need_no,
            Need.requester_name,
            Need.requester_kind,
            Need.prefecture_code,
            Need.county_code,
            Need.field,
            Need.description,
            Need.people_needed,
            Need.contact_name,
            Need.contact_phone,
            Need.status,
            Team.name,
            Need.created_at,
            Need.published_at,
            Need.done_at,
        )
        .outerjoin(Team, Team.id == Need.claimed_team_id)
        .where(*conditions)
        .order_by(Need.id)
    )

    def shape(row: Sequence[Any]) -> Sequence[Any]:
        no, requester, kind, pref, county, field_, text, people, contact, phone = row[:10]
        status, team, created, published, done = row[10:]
        return (
            no,
            requester,
            kind,
            region_text(pref, county),
            field_,
            text,
            people,
            contact,
            phone if full else (mask_mobile(phone) if phone else ""),
            STATUS_LABELS.get(status, status),
            team or "",
            clock.show(created),
            clock.show(published),
            clock.show(done),
        )

    columns = (
        ("需求编号", 14),
        ("需求方", 24),
        ("类型", 10),
        ("地区", 20),
        ("领域", 12),
        ("内容", 40),
        ("人数", 6),
        ("联系人", 10),
        ("联系电话", 14),
        ("状态", 8),
        ("认领服务队", 24),
        ("提交时间", 18),
        ("发布时间", 18),
        ("完成时间", 18),
    )
    return Listing("needs", "服务需求", columns, (shape(r) for r in stream(session, query)))
