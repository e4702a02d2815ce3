"""CLI commands: `flask --app app db|menu|flows ...`. Feature commands come from handlers.COMMANDS."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from config import Settings
from infra import migrate

MENU_PATH = Path(__file__).resolve().parent.parent / "menus.json"

db_cli = AppGroup("db", help="Database migrations (Alembic).")
menu_cli = AppGroup("menu", help="The bottom menu (menus.json).")
flows_cli = AppGroup("flows", help="Conversation flows.")


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


def menu_problems() -> tuple[dict[str, object], list[str]]:
    from wechat.menu import check_handlers, load_menu, validate_menu

    menu = load_menu(MENU_PATH)
    problems = validate_menu(menu)
    handled = current_app.extensions["bot"].table.click_keys()
    problems += check_handlers(menu, handled)
    return menu, problems


@menu_cli.command("check")
def menu_check() -> None:
    """Validate menus.json against WeChat's limits and our handlers."""
    _, problems = menu_problems()
    for problem in problems:
        click.echo(f"✗ {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo("menus.json is valid and every click key has a handler")


@menu_cli.command("push")
def menu_push() -> None:
    """Send menus.json to WeChat through the API client."""
    menu, problems = menu_problems()
    if problems:
        for problem in problems:
            click.echo(f"✗ {problem}", err=True)
        sys.exit(1)
    from wechat.errors import WeChatAPIError

    try:
        current_app.extensions["bot"].services.api.create_menu(menu)
    except WeChatAPIError as exc:
        click.echo(f"✗ WeChat refused the menu: errcode {exc.errcode} {exc.errmsg}", err=True)
        sys.exit(1)
    click.echo("menu pushed")


@menu_cli.command("show")
def menu_show() -> None:
    """Print the menu WeChat currently has."""
    from wechat.errors import WeChatAPIError

    try:
        current = current_app.extensions["bot"].services.api.get_menu()
    except WeChatAPIError as exc:
        click.echo(f"✗ errcode {exc.errcode} {exc.errmsg}", err=True)
        sys.exit(1)
    click.echo(json.dumps(current, ensure_ascii=False, indent=2))


@flows_cli.command("graph")
@click.argument("name", required=False)
def flows_graph(name: str | None) -> None:
    """Print each flow (or NAME) as a Mermaid diagram."""
    from handlers import FLOWS
    from wechat.conversation.graph import mermaid

    for flow in FLOWS:
        if name and flow.name != name:
            continue
        click.echo(f"%% {flow.name}: {flow.title}\n{mermaid(flow)}\n")


def register(app: Flask) -> None:
    from handlers import COMMANDS

    for group in (db_cli, menu_cli, flows_cli, *COMMANDS):
        app.cli.add_command(group)
