"""Operators' CLI for teams: flask --app app teams seed|pending|approve|reject|qrcode|tree, and
the special names (「在省科协指导下命名」) waiting for the province: names|name-approve|name-reject."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from domain import clock
from extensions import Services, services_of
from models.team import (
    STATUS_APPROVED,
    Team,
)
from services import teams
from wechat.errors import WeChatAPIError

teams_cli = AppGroup("teams", help="Volunteer teams: the 总队, registrations to review, QR codes.")


def _services() -> Services:
    return services_of(current_app)


def _resolve(session: Session, ref: str) -> Team:
    team = teams.find(session, ref)
    if team is None:
        click.echo(
            f"no team {ref!r} (give its id, team number, invite code or exact name)", err=True
        )
        sys.exit(1)
    return team


@teams_cli.command("seed")
def seed_command() -> None:
    """Create the root team 甘肃省科技志愿服务总队 (approved) unless it exists."""
    with _services().db.Session.begin() as session:
        team = teams.seed_root(session)
        click.echo(f"{team.name}\t{team.team_no}\t{team.status_label}")


@teams_cli.command("pending")
def pending_command() -> None:
    """List teams waiting for approval, oldest first."""
    with _services().db.Session() as session:
        waiting = teams.pending(session)
        for team in waiting:
            parent = teams.parent_of(session, team)
            flags = "\t需指导命名" if team.needs_guidance else ""
            click.echo(
                f"{team.id}\t{team.team_no}\t{team.name}\t{team.level}\t{team.kind_label}\t"
                f"上级：{parent.name if parent else '—'}\t{clock.show(team.created_at)}{flags}"
            )
        click.echo(f"{len(waiting)} pending")


def _decide(ref: str, decide: Callable[[Session, Team], Team], template_id: str | None) -> None:
    services = _services()
    try:
        with services.db.Session.begin() as session:
            team = decide(session, _resolve(session, ref))
    except teams.TeamError as exc:
        click.echo(exc.hint, err=True)
        sys.exit(1)
    click.echo(f"{team.name}\t{team.team_no}\t{team.status_label}")
    how = teams.deliver_decision(services.api, team, template_id=template_id)
    click.echo(f"registrant notified: {how}")


TEMPLATE_OPTION = click.option(
    "--template-id",
    envvar="TEAM_NOTICE_TEMPLATE_ID",
    default=None,
    help="Template for the notice when a customer-service message cannot reach the registrant.",
)


@teams_cli.command("approve")
@click.argument("team")
@TEMPLATE_OPTION
def approve_command(team: str, template_id: str | None) -> None:
    """Approve a pending (or rejected) team and notify its registrant."""
    _decide(team, lambda s, t: teams.approve(s, t.id, by=teams.PROVINCE), template_id)


@teams_cli.command("reject")
@click.argument("team")
@click.option("--reason", required=True, help="Why, in Chinese: shown to the registrant.")
@TEMPLATE_OPTION
def reject_command(team: str, reason: str, template_id: str | None) -> None:
    """Reject a pending team with a reason and notify its registrant."""
    _decide(team, lambda s, t: teams.reject(s, t.id, reason, by=teams.PROVINCE), template_id)


@teams_cli.command("qrcode")
@click.argument("team")
def qrcode_command(team: str) -> None:
    """Create the team's permanent scene QR code (scanning it asks to join) and print its URL."""
    services = _services()
    with services.db.Session() as session:
        found = _resolve(session, team)
    if found.status != STATUS_APPROVED:
        click.echo(
            f"note: {found.name} is {found.status_label}; joining opens once approved", err=True
        )
    try:
        answer = services.api.create_qrcode(teams.scene_for(found), permanent=True)
    except WeChatAPIError as error:
        click.echo(f"WeChat refused the QR code: errcode {error.errcode} {error.errmsg}", err=True)
        sys.exit(1)
    click.echo(f"{found.name}\t{teams.scene_for(found)}")
    click.echo(f"image: {answer['show_url']}")
    click.echo(f"content: {answer.get('url', '')}")


@teams_cli.command("tree")
def tree_command() -> None:
    """Print the 总队—队—支队—分队 hierarchy with members and pending join requests."""
    with _services().db.Session() as session:
        rows = teams.tree(session)
        for row in rows:
            indent = "  " * row.depth
            joining = "，自动通过" if row.team.auto_approve else ""
            click.echo(
                f"{indent}{row.team.name}（{row.team.level}，{row.team.status_label}）"
                f" 成员 {row.members} 人，待审核入队 {row.pending} 条{joining}"
            )
        click.echo(f"{len(rows)} teams")


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli"


@teams_cli.command("names")
def names_command() -> None:
    """List the special names (在省科协指导下命名) waiting for the province, oldest first."""
    with _services().db.Session() as session:
        waiting = teams.pending_special_names(session)
        for team in waiting:
            asked = clock.show(team.name_requested_at) if team.name_requested_at else "—"
            click.echo(f"{team.id}\t{team.team_no}\t{team.name}\t→ {team.requested_name}\t{asked}")
        click.echo(f"{len(waiting)} special names pending")


def _decide_name(ref: str, approve: bool, reason: str, template_id: str | None) -> None:
    services = _services()
    try:
        with services.db.Session.begin() as session:
            decision = teams.decide_special_name(
                session,
                _resolve(session, ref).id,
                approve_it=approve,
                by=teams.PROVINCE,
                reason=reason,
                actor=_cli_actor(),
            )
    except teams.TeamError as exc:
        click.echo(exc.hint, err=True)
        sys.exit(1)
    verdict = "approved" if approve else f"refused ({decision.reason})"
    click.echo(f"{decision.team.name}\t{decision.team.team_no}\tspecial name {verdict}")
    how = teams.tell_name_decision(services.api, decision, template_id=template_id)
    told = ", ".join(f"{openid[:6]}…: {result}" for openid, result in how.items())
    click.echo(f"admins notified: {told or 'nobody (no admin)'}")


@teams_cli.command("name-approve")
@click.argument("team")
@TEMPLATE_OPTION
def name_approve_command(team: str, template_id: str | None) -> None:
    """Approve a team's special name: the rename takes effect and its admins are told."""
    _decide_name(team, True, "", template_id)


@teams_cli.command("name-reject")
@click.argument("team")
@click.option("--reason", required=True, help="Why, in Chinese: the team's admins are told.")
@TEMPLATE_OPTION
def name_reject_command(team: str, reason: str, template_id: str | None) -> None:
    """Refuse a team's special name with a reason; the team's admins are told it."""
    _decide_name(team, False, reason, template_id)
