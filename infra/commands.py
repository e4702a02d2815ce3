"""CLI: `flask --app app db upgrade|downgrade|revision` (Alembic). app.py registers it."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from config import Settings
from infra import migrate

db_cli = AppGroup("db", help="Database migrations (Alembic).")


def _settings() -> Settings:
    settings: Settings = current_app.extensions["settings"]
    return settings


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    migrate.upgrade(_settings(), revision)
    click.echo(f"database upgraded to {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    migrate.downgrade(_settings(), revision)
    click.echo(f"database downgraded to {revision}")


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models (review it before committing)."""
    migrate.revision(_settings(), message)
