"""`make run`'s demo data: the root team and a console account with a fresh password."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from infra.db import Database
from models.team import Team
from sandbox.run import SANDBOX_OPERATOR, prepare_demo_data
from services import operators


def test_demo_data_is_idempotent_and_the_password_is_fresh(app: Flask, db: Database) -> None:
    _, first = prepare_demo_data(app)
    username, second = prepare_demo_data(app)
    assert username == SANDBOX_OPERATOR and first != second
    with db.Session() as session:
        assert session.scalar(select(func.count()).select_from(Team)) == 1
        operator = operators.find(session, SANDBOX_OPERATOR)
        assert operators.verify_password(operator, second)
        assert not operators.verify_password(operator, first)
