"""Row generators for bench/seed_data.py, second part: activities, sign-ups, attendance, service
records and corrections, needs, notices with their recipients, and the audit log (see
bench/seed_rows.py for the format)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

from bench.seed_rows import PLACES, SKILLS, TITLES, World, _name, _phone, esc, line, ts
from models.activity import ACTIVITY_TYPES, KEY_DATES

ACTIVITY_COLUMNS = [
    "id",
    "title",
    "type",
    "key_date",
    "service_field",
    "team_id",
    "organiser_region_code",
    "prefecture_code",
    "county_code",
    "place",
    "latitude",
    "longitude",
    "starts_at",
    "ends_at",
    "capacity",
    "signup_deadline",
    "required_skills",
    "required_region_code",
    "description",
    "contact",
    "cover",
    "status",
    "cancel_reason",
    "created_by",
    "created_by_openid",
    "published_at",
    "cancelled_at",
    "created_at",
    "updated_at",
]
SIGNUP_COLUMNS = [
    "id",
    "activity_id",
    "volunteer_id",
    "status",
    "waitlist_position",
    "created_at",
    "promoted_at",
    "cancelled_at",
    "cancelled_by",
    "reminded_at",
]
ATTENDANCE_COLUMNS = [
    "id",
    "activity_id",
    "volunteer_id",
    "walk_in",
    "checked_in_at",
    "check_in_method",
    "checked_out_at",
    "check_out_method",
    "created_at",
    "updated_at",
]
RECORD_COLUMNS = [
    "id",
    "activity_id",
    "volunteer_id",
    "status",
    "hours",
    "measured_hours",
    "adjustment_reason",
    "activity_title",
    "service_date",
    "place",
    "content",
    "organiser",
    "recorder",
    "evaluation",
    "recorded_at",
    "created_at",
    "updated_at",
]
CORRECTION_COLUMNS = [
    "id",
    "record_id",
    "volunteer_id",
    "reason",
    "requested_at",
    "status",
    "hours_before",
    "hours_after",
    "decided_by",
    "decision_reason",
    "decided_at",
]


def activity_rows(world: World) -> Iterator[tuple[str, str]]:
    """(table, line) for activities, signups, attendances, service_records and
    record_corrections, in id order per table."""
    rng = world.rng
    count = int(100_000 * world.scale)
    span = world.span()
    by_member: list[int] = [
        t for t, ids in world.members.items() for _ in range(len(ids) // 10 + 1)
    ]
    team_region = {t[0]: (t[2], t[3]) for t in world.teams}
    ids = {"signups": 0, "attendances": 0, "service_records": 0, "record_corrections": 0}

    def next_id(table: str) -> int:
        ids[table] += 1
        return ids[table]

    for aid in range(1, count + 1):
        created = world.at(span * ((aid / count) ** 0.7))
        starts = (created + timedelta(days=rng.randint(3, 20))).replace(minute=0, second=0)
        starts = starts.replace(hour=rng.choice((1, 2, 6, 7)))  # 09:00, 10:00, 14:00, 15:00 Beijing
        ends = starts + timedelta(hours=rng.choice((2, 3, 4, 6)))
        past = ends < world.now
        roll = rng.random()
        if past:
            status = "finished" if roll < 0.88 else ("recruiting" if roll < 0.94 else
                                                     ("cancelled" if roll < 0.98 else "draft"))  # fmt: skip
        else:
            status = "recruiting" if roll < 0.8 else ("full" if roll < 0.9 else
                                                      ("draft" if roll < 0.95 else "cancelled"))  # fmt: skip
        if rng.random() < 0.9 and by_member:
            team_id: int | None = rng.choice(by_member)
            pref, county = team_region[team_id]
            organiser_region = None
            organiser = world.team_names[team_id]
        else:
            team_id = None
            pref = rng.choice(world.prefectures)
            county = world.county(pref) if rng.random() < 0.5 else None
            organiser_region = county or pref
            organiser = "科协"
        capacity = rng.choice((None, 20, 30, 50, 100))
        title = rng.choice(TITLES) + f"（第{aid}期）"
        place = rng.choice(PLACES)
        published = None if status == "draft" else ts(created + timedelta(hours=2))
        cancelled = status == "cancelled"
        yield "activities", line([
            aid, title, rng.choice(ACTIVITY_TYPES), rng.choice(KEY_DATES), rng.choice(SKILLS),
            team_id, organiser_region, pref, county, place, "36.061089", "103.834304",
            ts(starts), ts(ends), capacity, ts(starts - timedelta(hours=12)), None, None,
            "面向群众开展科普宣传和技术指导。", _phone(rng), None, status,
            "天气原因" if cancelled else None, None, None, published,
            ts(starts - timedelta(days=1)) if cancelled else None, ts(created), ts(created),
        ])  # fmt: skip
        if status == "draft":
            continue
        members = world.members.get(team_id, []) if team_id else []
        wanted = min(capacity or 200, int(rng.expovariate(1 / 14)) + 1)
        chosen: set[int] = set()
        for _ in range(wanted * 2):
            if len(chosen) >= wanted:
                break
            if members and rng.random() < 0.8:
                chosen.add(rng.choice(members))
            else:
                v = rng.randint(1, world.volunteer_count)
                if world.openids[v - 1] is not None:
                    chosen.add(v)
        position = 0
        recorded_at = ends + timedelta(days=1)
        hours = Decimal((ends - starts).seconds // 3600)
        service_date = (starts + timedelta(hours=8)).date().isoformat()
        for v in sorted(chosen):
            signed = starts - timedelta(days=rng.randint(1, 3))
            roll = rng.random()
            if cancelled:
                s_status, by = "cancelled", "activity"
            elif roll < 0.9:
                s_status, by = "signed_up", None
            elif roll < 0.97:
                s_status, by = "cancelled", "volunteer"
            else:
                s_status, by = "waitlisted", None
            wait = None
            if s_status == "waitlisted":
                position += 1
                wait = position
            yield "signups", line([
                next_id("signups"), aid, v, s_status, wait, ts(signed), None,
                ts(signed + timedelta(hours=3)) if s_status == "cancelled" else None, by,
                ts(starts - timedelta(days=1)) if s_status == "signed_up" else None,
            ])  # fmt: skip
            if not past or cancelled or s_status != "signed_up":
                continue
            attended = rng.random() < 0.85
            if attended:
                yield "attendances", line([
                    next_id("attendances"), aid, v, 0, ts(starts), "qr", ts(ends), "qr",
                    ts(starts), ts(ends),
                ])  # fmt: skip
            rid = next_id("service_records")
            yield "service_records", line([
                rid, aid, v, "confirmed" if attended else "absent",
                hours if attended else 0, hours if attended else None, None, esc(title),
                service_date, place, esc(title), esc(organiser), "队长", None,
                ts(recorded_at), ts(recorded_at), ts(recorded_at),
            ])  # fmt: skip
            if attended and rng.random() < 0.002:
                pending = rng.random() < 0.6
                yield "record_corrections", line([
                    next_id("record_corrections"), rid, v, "签退时间记录有误", ts(recorded_at),
                    "pending" if pending else "accepted", hours, None if pending else hours + 1,
                    None if pending else "队长", None, None if pending else ts(recorded_at),
                ])  # fmt: skip


# -- needs, notices, audit ------------------------------------------------------------------

NEED_COLUMNS = [
    "id",
    "need_no",
    "poster_openid",
    "requester_name",
    "requester_kind",
    "prefecture_code",
    "county_code",
    "field",
    "description",
    "starts_on",
    "ends_on",
    "people_needed",
    "contact_name",
    "contact_phone",
    "status",
    "reject_reason",
    "merged_into_id",
    "claimed_team_id",
    "activity_id",
    "reviewed_by",
    "satisfaction",
    "feedback",
    "reviewed_at",
    "published_at",
    "claimed_at",
    "done_at",
    "feedback_at",
    "created_at",
    "updated_at",
]


def needs(world: World) -> Iterator[str]:
    rng, count = world.rng, max(100, int(5_000 * world.scale))
    span = world.span()
    openids = [o for o in world.openids[:20_000] if o]
    approved = [t[0] for t in world.teams if t[4] == "approved"]
    for i in range(1, count + 1):
        created = world.at(span * (i / count))
        pref = rng.choice(world.prefectures)
        status = rng.choices(
            ("pending", "published", "rejected", "claimed", "done"), weights=(5, 30, 5, 20, 40)
        )[0]
        claimed = status in ("claimed", "done")
        yield line([
            i, f"XQ{created:%Y%m%d}{i % 10000:04d}{i // 10000}", rng.choice(openids),
            f"{rng.choice(('某社区', '某村', '某学校', '某企业'))}{i}", rng.choice(("社区", "乡村", "学校", "企业")),
            pref, world.county(pref), rng.choice(SKILLS), "希望开展科普讲座。",
            None, None, rng.randint(2, 20), _name(rng), _phone(rng), status,
            "信息不全" if status == "rejected" else None, None,
            rng.choice(approved) if claimed else None, None, "operator", None, None,
            ts(created + timedelta(days=1)), ts(created + timedelta(days=1)),
            ts(created + timedelta(days=3)) if claimed else None,
            ts(created + timedelta(days=20)) if status == "done" else None, None,
            ts(created), ts(created),
        ])  # fmt: skip


NOTICE_COLUMNS = [
    "id",
    "template_id",
    "activity_id",
    "data",
    "url",
    "audience",
    "audience_text",
    "prefecture_code",
    "county_code",
    "status",
    "stop_reason",
    "resume_at",
    "created_by",
    "created_at",
    "updated_at",
    "queued_at",
    "started_at",
    "finished_at",
]
RECIPIENT_COLUMNS = [
    "id",
    "notice_id",
    "openid",
    "volunteer_id",
    "status",
    "attempts",
    "next_attempt_at",
    "claimed_by",
    "claimed_at",
    "msgid",
    "errcode",
    "delivery",
    "sent_at",
    "delivered_at",
]


def notices(world: World) -> Iterator[tuple[str, str]]:
    """300 notices (most finished); the last ten have recipient rows, the last of all one per
    tenth of the volunteers who can receive notices."""
    rng, span = world.rng, world.span()
    data = esc(json.dumps({"thing1": "科普讲座", "time2": "2026年12月5日 09:00"}))
    audience = esc(json.dumps({"region": None, "skills": [], "service_times": []}))
    count, rid = 300, 0
    for nid in range(1, count + 1):
        created = world.at(span * (nid / count))
        pref = rng.choice(world.prefectures) if rng.random() < 0.5 else None
        status = "finished" if nid < count - 2 else ("sending" if nid == count else "paused")
        yield "notices", line([
            nid, 1, None, data, None, audience, "全省的注册志愿者", pref, None, status, None,
            None, None, ts(created), ts(created), ts(created), ts(created),
            ts(created + timedelta(hours=1)) if status == "finished" else None,
        ])  # fmt: skip
        if nid <= count - 10:
            continue
        size = world.volunteer_count // 10 if nid == count else rng.randint(500, 5000)
        step = max(1, world.volunteer_count // max(1, size))
        for v in range(1 + nid % step, world.volunteer_count + 1, step):
            openid = world.openids[v - 1]
            if openid is None:
                continue
            rid += 1
            done = status == "finished" or rng.random() < 0.6
            sent = ts(created + timedelta(minutes=5)) if done else None
            yield "notice_recipients", line([
                rid, nid, openid, v, "sent" if done else "queued", int(done), None, None, None,
                rid if done else None, 0 if done else None, "delivered" if done else None,
                sent, sent,
            ])  # fmt: skip


AUDIT_COLUMNS = [
    "id",
    "created_at",
    "operator_id",
    "actor",
    "action",
    "target_type",
    "target_id",
    "summary",
    "detail",
    "ip",
]
AUDIT_ACTIONS = ("team.approve", "team.reject", "volunteer.export", "notice.create", "login")


def audit_log(world: World) -> Iterator[str]:
    rng, span, count = world.rng, world.span(), max(1000, int(100_000 * world.scale))
    for i in range(1, count + 1):
        action = rng.choice(AUDIT_ACTIONS)
        yield line([
            i, ts(world.at(span * (i / count))), 1, "bench_province", action, "team",
            str(rng.randint(1, 20000)), f"{action} #{i}", None, "127.0.0.1",
        ])  # fmt: skip
