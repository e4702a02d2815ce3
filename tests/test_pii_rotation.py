"""Rotating PII_ENCRYPTION_KEY: `flask --app app pii rotate` on real MariaDB and Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from config import Settings
from domain.idcard import compute_check_digit
from domain.pii import PiiCipher
from extensions import close_extensions
from infra.db import Database
from models.volunteer import Volunteer
from services.volunteers import ID_CONTEXT
from tests import volunteer_steps as steps
from tests.wechat_user import WeChatUser

NEW_KEY = "rotated-pii-key-ffffffffffffffffffffffffffff"
SECOND_ID = "62010219800101123" + compute_check_digit("62010219800101123")


@pytest.fixture
def rotated_app(app: Flask, settings: Settings) -> Iterator[Flask]:
    """The same deployment restarted with the new key (same database and Redis prefix)."""
    from app import create_app

    old = app.extensions["settings"]
    application = create_app(old.with_overrides(pii_encryption_key=NEW_KEY))
    application.config["TESTING"] = True
    yield application
    close_extensions(application)


def user_on(app: Flask, openid: str) -> WeChatUser:
    bot = app.extensions["bot"]
    return WeChatUser(app.test_client(), bot.protocol, openid)


def rotate(app: Flask, old_key: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(
        args=["pii", "rotate", "--batch-size", "1"], env={"PII_OLD_ENCRYPTION_KEY": old_key}
    )
    return result.exit_code, result.output


def stored(db: Database) -> dict[str, tuple[str, str]]:
    with db.Session() as session:
        rows = session.execute(
            select(Volunteer.openid, Volunteer.id_number_cipher, Volunteer.id_number_hash)
        ).all()
    return {str(openid): (str(cipher), str(index)) for openid, cipher, index in rows}


def test_rotation_reencrypts_id_numbers_and_conversations_in_progress(
    app: Flask,
    rotated_app: Flask,
    make_user: Callable[..., WeChatUser],
    settings: Settings,
    db: Database,
) -> None:
    old_key = settings.pii_encryption_key
    registered = make_user()
    assert "注册成功" in steps.register(registered)
    halfway = make_user()
    # The ID number is answered and kept sealed in the conversation; the phone is asked next.
    assert "手机号" in steps.answer_until(halfway, stop_before="phone", id_number=SECOND_ID)
    before = stored(db)[registered.openid]

    code, output = rotate(rotated_app, old_key)
    assert code == 0, output
    assert "volunteers: 1 re-encrypted, 0 already under the new key" in output
    assert "conversations: 1 re-sealed, 0 unreadable and removed" in output

    new = PiiCipher(NEW_KEY)
    cipher, index = stored(db)[registered.openid]
    assert (cipher, index) != before
    assert new.decrypt(cipher, context=ID_CONTEXT) == steps.GOOD_ID
    assert index == new.blind_index(steps.GOOD_ID, context=ID_CONTEXT)

    # The half-filled form continues under the new key, and its ID number is saved.
    continued = user_on(rotated_app, halfway.openid)
    for name, answer, expect in steps.ANSWERS[3:]:
        assert expect in continued.say(answer), name
    assert "注册成功" in continued.say("确认")
    cipher, index = stored(db)[halfway.openid]
    assert new.decrypt(cipher, context=ID_CONTEXT) == SECOND_ID
    assert index == new.blind_index(SECOND_ID, context=ID_CONTEXT)

    # Blind indexes were recomputed: the first ID number is still recognised as taken.
    copycat = user_on(rotated_app, "o" + "c" * 27)
    assert "已被注册" in steps.register(copycat)

    check = rotated_app.test_cli_runner().invoke(args=["pii", "check"])
    assert check.exit_code == 0, check.output


def test_rotation_run_twice_changes_nothing_the_second_time(
    app: Flask,
    rotated_app: Flask,
    make_user: Callable[..., WeChatUser],
    settings: Settings,
    db: Database,
) -> None:
    steps.register(make_user())
    steps.register(make_user(), id_number=SECOND_ID)
    assert rotate(rotated_app, settings.pii_encryption_key)[0] == 0
    after_first = stored(db)

    code, output = rotate(rotated_app, settings.pii_encryption_key)
    assert code == 0, output
    assert "volunteers: 0 re-encrypted, 2 already under the new key" in output
    assert stored(db) == after_first


def test_a_wrong_old_key_changes_nothing(
    app: Flask, rotated_app: Flask, make_user: Callable[..., WeChatUser], db: Database
) -> None:
    steps.register(make_user())
    before = stored(db)

    code, output = rotate(rotated_app, "not-the-old-key-0000000000000000000000")
    assert code == 1
    assert "opens with neither key" in output
    assert stored(db) == before
    check = rotated_app.test_cli_runner().invoke(args=["pii", "check"])
    assert check.exit_code == 1
    assert "not readable with the current key" in check.output
