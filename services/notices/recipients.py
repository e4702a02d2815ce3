"""Building a notice's recipient rows in keyset batches.

A province-wide notice has a million recipients. They are never loaded into memory: each batch
is an INSERT ... SELECT over a range of volunteer ids, and the range's upper end is found by a
keyset probe (the BATCH-th matching id after the previous batch), so every statement writes at
most `batch_size` rows whatever the audience. A small audience (fewer than one batch) takes one
probe and one statement, planned as before (from the team's members, the activity's sign-ups).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, insert, literal, select
from sqlalchemy.orm import Session

from models.notice import R_QUEUED, NoticeRecipient
from models.volunteer import Volunteer

RECIPIENT_BATCH = 20_000


def insert_recipients(
    session: Session,
    notice_id: int,
    conditions: Sequence[ColumnElement[bool]],
    *,
    batch_size: int = RECIPIENT_BATCH,
) -> int:
    """Insert a queued recipient row for every volunteer matching `conditions`, at most
    `batch_size` per statement, in volunteer id order. Returns the number of batches."""
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    after: int | None = None
    batches = 0
    while True:
        window = list(conditions)
        if after is not None:
            window.append(Volunteer.id > after)
        # The id of the batch_size-th match: the batch ends there (None: the rest is smaller).
        upto = session.scalar(
            select(Volunteer.id)
            .where(*window)
            .order_by(Volunteer.id)
            .offset(batch_size - 1)
            .limit(1)
        )
        if upto is not None:
            window.append(Volunteer.id <= upto)
        rows = select(
            literal(notice_id), Volunteer.openid, Volunteer.id, literal(R_QUEUED), literal(0)
        ).where(*window)
        session.execute(
            insert(NoticeRecipient).from_select(
                ["notice_id", "openid", "volunteer_id", "status", "attempts"], rows
            )
        )
        batches += 1
        if upto is None:
            return batches
        after = upto
