"""CLI: `flask --app app pii rotate|check`: rotating PII_ENCRYPTION_KEY (see README, runbook).

rotate re-encrypts every stored ID number and recomputes its blind index from the old key to the
current PII_ENCRYPTION_KEY, then re-seals the answers kept in conversations in progress (Redis).
Run it with the web and worker processes stopped (or before they start with the new key).
"""

from __future__ import annotations

import json
import os
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from domain.pii import PiiCipher, PiiError
from extensions import Services
from services import pii_keys
from wechat.conversation.rekey import rekey_document

pii_cli = AppGroup("pii", help="Personal-data encryption keys.")

OLD_KEY_VARIABLE = "PII_OLD_ENCRYPTION_KEY"


def _services() -> Services:
    services: Services = current_app.extensions["services"]
    return services


def _old_cipher() -> PiiCipher:
    old_key = os.environ.get(OLD_KEY_VARIABLE) or click.prompt(
        "旧的 PII_ENCRYPTION_KEY", hide_input=True
    )
    if len(old_key) < 32:
        click.echo("✗ the old key is shorter than 32 characters", err=True)
        sys.exit(1)
    return PiiCipher(old_key)


@pii_cli.command("rotate")
@click.option("--batch-size", default=500, show_default=True, help="Rows per transaction.")
def pii_rotate(batch_size: int) -> None:
    """Re-encrypt ID numbers (and conversations in progress) from the old key (read from
    $PII_OLD_ENCRYPTION_KEY, else prompted) to the current PII_ENCRYPTION_KEY."""
    services = _services()
    old, new = _old_cipher(), services.pii
    rotated = current = 0
    after_id = 0
    while True:
        try:
            with services.db.Session.begin() as session:
                batch = pii_keys.rotate_volunteer_batch(
                    session, old, new, after_id=after_id, limit=batch_size
                )
        except pii_keys.UnreadableRow as exc:
            click.echo(f"✗ {exc}; is the old key right? Nothing of that batch changed.", err=True)
            sys.exit(1)
        if batch.seen == 0:
            break
        rotated += batch.rotated
        current += batch.already_current
        after_id = batch.last_id
    click.echo(f"volunteers: {rotated} re-encrypted, {current} already under the new key")
    resealed, dropped = _rekey_conversations(services, old, new)
    click.echo(f"conversations: {resealed} re-sealed, {dropped} unreadable and removed")


def _rekey_conversations(services: Services, old: PiiCipher, new: PiiCipher) -> tuple[int, int]:
    """Re-seal the answers in every stored conversation; a document neither key opens is removed
    (its user starts the form again rather than being stuck)."""
    client = services.redis
    resealed = dropped = 0
    pattern = services.keys.conversation("*")
    for key in client.scan_iter(match=pattern, count=500):
        raw = client.get(key)
        if raw is None:
            continue
        doc = _json(raw)
        try:
            if doc is None or rekey_document(doc, old, new, refused=(PiiError,)) == 0:
                continue
        except PiiError:
            client.delete(key)
            dropped += 1
            continue
        payload = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        # XX + KEEPTTL: a conversation that ended meanwhile stays ended, the timeout unchanged.
        if client.set(key, payload, xx=True, keepttl=True):
            resealed += 1
    return resealed, dropped


def _json(raw: bytes | str) -> dict[str, object] | None:
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


@pii_cli.command("check")
def pii_check() -> None:
    """Verify that the current PII_ENCRYPTION_KEY opens every stored ID number and matches its
    blind index (after a rotation, or before removing the old key from the environment)."""
    services = _services()
    with services.db.Session() as session:
        bad = pii_keys.unreadable_volunteers(session, services.pii)
    if bad:
        shown = ", ".join(f"#{volunteer_id}" for volunteer_id in bad)
        click.echo(f"✗ volunteers not readable with the current key: {shown}", err=True)
        sys.exit(1)
    click.echo("every stored ID number opens with the current key")
