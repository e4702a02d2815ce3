"""The console's data migrations on rows written before them: activity times move from Beijing
wall-clock time to UTC (0005), operator usernames get their normalised form (0008)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from config import Settings
from infra.migrate import upgrade

NOW = datetime(2026, 11, 30, 12, 0)


def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings.from_env(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'old.sqlite3'}"}, load_dotenv=False
    )


def run_sql(settings: Settings, sql: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def test_activity_times_typed_in_beijing_become_utc(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    upgrade(settings, "0005_console_times-1")
    run_sql(
        settings,
        "INSERT INTO activities (title, type, team_id, place, starts_at, ends_at, signup_deadline,"
        " description, contact, status, created_at, updated_at) VALUES ('科普讲座', '科普讲座', 1,"
        " '科技馆', :starts, :ends, :deadline, '说明', '王老师', 'published', :now, :now)",
        starts=datetime(2026, 12, 1, 7, 30),  # 07:30 in Beijing
        ends=datetime(2026, 12, 1, 9, 30),
        deadline=None,
        now=NOW,
    )
    upgrade(settings, "0005_console_times")
    ((starts, ends, deadline),) = run_sql(
        settings, "SELECT starts_at, ends_at, signup_deadline FROM activities"
    )
    assert (str(starts), str(ends), deadline) == (
        "2026-11-30 23:30:00.000000",
        "2026-12-01 01:30:00.000000",
        None,
    )


def add_operator_row(settings: Settings, username: str) -> None:
    run_sql(
        settings,
        "INSERT INTO operators (username, password_hash, role, active, created_at, updated_at)"
        " VALUES (:name, 'scrypt:x', 'province', 1, :now, :now)",
        name=username,
        now=NOW,
    )


def test_usernames_get_their_normalised_form(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)
    upgrade(settings, "0008_console_users-1")
    for name in ("Sheng", "ＱＹＯＰ", "lanzhou"):
        add_operator_row(settings, name)
    upgrade(settings, "0008_console_users")
    names = [row[0] for row in run_sql(settings, "SELECT username FROM operators ORDER BY id")]
    assert names == ["sheng", "qyop", "lanzhou"]


def test_two_names_that_become_one_stop_the_upgrade_with_a_hint(tmp_path: Path) -> None:
    settings = sqlite_settings(tmp_path)  # SQLite's unique index is case-sensitive
    upgrade(settings, "0008_console_users-1")
    add_operator_row(settings, "sheng")
    add_operator_row(settings, "Sheng")
    with pytest.raises(RuntimeError, match="rename one of them"):
        upgrade(settings, "0008_console_users")
