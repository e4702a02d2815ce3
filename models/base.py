"""Declarative base, shared column types and a naming convention for stable constraint names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# BIGINT on MySQL, INTEGER on SQLite (so SQLite still autoincrements the rowid).
BigId = BigInteger().with_variant(Integer(), "sqlite")

IntPk = Annotated[int, mapped_column(BigId, primary_key=True, autoincrement=True)]
OpenId = Annotated[str, mapped_column(String(64))]
Created = Annotated[datetime, mapped_column(DateTime, default=utcnow, nullable=False)]
Updated = Annotated[
    datetime, mapped_column(DateTime, default=utcnow, onupdate=utcnow, nullable=False)
]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
