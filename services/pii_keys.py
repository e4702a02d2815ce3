"""PII key rotation: re-encrypt stored ID numbers and recompute their blind indexes.

Run in batches by the CLI (`flask --app app pii rotate`); each batch is one transaction, and a
row already under the new key is recognised and skipped, so an interrupted rotation is simply
run again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.pii import PiiCipher, PiiError
from models.volunteer import Volunteer
from services.volunteers import ID_CONTEXT


class UnreadableRow(Exception):
    """A stored value opens with neither key: the old key given is wrong. Carries the row id."""

    def __init__(self, volunteer_id: int) -> None:
        super().__init__(f"volunteer #{volunteer_id}: the ID number opens with neither key")
        self.volunteer_id = volunteer_id


@dataclass
class BatchResult:
    last_id: int
    rotated: int = 0
    already_current: int = 0

    @property
    def seen(self) -> int:
        return self.rotated + self.already_current


def rotate_volunteer_batch(
    session: Session, old: PiiCipher, new: PiiCipher, *, after_id: int, limit: int
) -> BatchResult:
    """Re-encrypt up to `limit` volunteers with id > after_id from `old` to `new` (no commit)."""
    rows = session.scalars(
        select(Volunteer)
        .where(Volunteer.id > after_id, Volunteer.id_number_cipher.is_not(None))
        .order_by(Volunteer.id)
        .limit(limit)
        .with_for_update()
    ).all()
    result = BatchResult(last_id=rows[-1].id if rows else after_id)
    for volunteer in rows:
        token = volunteer.id_number_cipher or ""
        try:
            number = old.decrypt(token, context=ID_CONTEXT)
        except PiiError:
            if not _opens(new, token):
                raise UnreadableRow(volunteer.id) from None
            result.already_current += 1
            continue
        volunteer.id_number_cipher = new.encrypt(number, context=ID_CONTEXT)
        volunteer.id_number_hash = new.blind_index(number, context=ID_CONTEXT)
        result.rotated += 1
    session.flush()
    return result


def unreadable_volunteers(session: Session, cipher: PiiCipher, *, limit: int = 20) -> list[int]:
    """Ids of volunteers whose ID number `cipher` cannot open, or whose blind index does not
    match it (at most `limit`): empty after a complete rotation."""
    bad: list[int] = []
    query = (
        select(Volunteer.id, Volunteer.id_number_cipher, Volunteer.id_number_hash)
        .where(Volunteer.id_number_cipher.is_not(None))
        .order_by(Volunteer.id)
        .execution_options(yield_per=1000)
    )
    for volunteer_id, token, stored_hash in session.execute(query):
        try:
            number = cipher.decrypt(token or "", context=ID_CONTEXT)
        except PiiError:
            bad.append(volunteer_id)
        else:
            if cipher.blind_index(number, context=ID_CONTEXT) != stored_hash:
                bad.append(volunteer_id)
        if len(bad) >= limit:
            break
    return bad


def _opens(cipher: PiiCipher, token: str) -> bool:
    try:
        cipher.decrypt(token, context=ID_CONTEXT)
    except PiiError:
        return False
    return True
