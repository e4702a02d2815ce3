"""CLI: `flask --app app menu check|push|show` and `flask --app app flows graph`, read from the
bot that app.py built (its route table, its flows, its API client)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from wechat.bot import Bot
from wechat.conversation.graph import mermaid
from wechat.errors import WeChatAPIError
from wechat.menu import check_handlers, load_menu, validate_menu

MENU_PATH = Path(__file__).resolve().parent.parent / "menus.json"

menu_cli = AppGroup("menu", help="The bottom menu (menus.json).")
flows_cli = AppGroup("flows", help="Conversation flows.")


def _bot() -> Bot:
    bot: Bot = current_app.extensions["bot"]
    return bot


def menu_problems() -> tuple[dict[str, object], list[str]]:
    menu = load_menu(MENU_PATH)
    problems = validate_menu(menu)
    problems += check_handlers(menu, _bot().table.click_keys())
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
    try:
        _bot().api.create_menu(menu)
    except WeChatAPIError as exc:
        click.echo(f"✗ WeChat refused the menu: errcode {exc.errcode} {exc.errmsg}", err=True)
        sys.exit(1)
    click.echo("menu pushed")


@menu_cli.command("show")
def menu_show() -> None:
    """Print the menu WeChat currently has."""
    try:
        current = _bot().api.get_menu()
    except WeChatAPIError as exc:
        click.echo(f"✗ errcode {exc.errcode} {exc.errmsg}", err=True)
        sys.exit(1)
    click.echo(json.dumps(current, ensure_ascii=False, indent=2))


@flows_cli.command("graph")
@click.argument("name", required=False)
def flows_graph(name: str | None) -> None:
    """Print each flow (or NAME) as a Mermaid diagram."""
    for flow in _bot().conversations.flows.values():
        if name and flow.name != name:
            continue
        click.echo(f"%% {flow.name}: {flow.title}\n{mermaid(flow)}\n")
