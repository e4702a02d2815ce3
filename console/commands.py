"""CLI: `flask --app app operator ...` (console accounts) and `flask --app app notice ...`."""

from __future__ import annotations

import getpass
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.errors import ValidationError
from extensions import Services
from models.notice import NoticeTemplate
from models.operator import ROLE_LABELS, Operator
from services import notices, operators
from services.operators import Scope

operator_cli = AppGroup("operator", help="Console accounts (科协工作人员).")
notice_cli = AppGroup("notice", help="Template-message notices.")


def _services() -> Services:
    services: Services = current_app.extensions["services"]
    return services


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return "cli"


def _fail(message: str) -> None:
    click.echo(f"✗ {message}", err=True)
    sys.exit(1)


@operator_cli.command("create")
@click.argument("username")
@click.option(
    "--role",
    required=True,
    help="province, or region:<division code> (a 市州 or 县区 code, e.g. region:620100).",
)
@click.option("--password", help="For scripts; prompted (hidden, twice) when left out.")
def operator_create(username: str, role: str, password: str | None) -> None:
    """Create a console account."""
    try:
        role_name, region_code = operators.parse_role(role)
        if password is None:
            password = click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
        with _services().db.Session.begin() as session:
            operator = operators.create(
                session,
                username=username,
                password=password or "",
                role=role_name,
                region_code=region_code,
            )
            scope = Scope.of(role_name, region_code)
            operators.audit(
                session,
                None,
                "operator_create",
                summary=f"创建账号 {operator.username}（{scope.label}）",
                target=operator,
                actor=_actor(),
            )
    except ValidationError as exc:
        _fail(exc.hint)
    click.echo(f"已创建账号 {username}：{ROLE_LABELS[role_name]}，范围 {scope.label}")


@operator_cli.command("list")
def operator_list() -> None:
    """List console accounts."""
    with _services().db.Session() as session:
        for operator in session.scalars(select(Operator).order_by(Operator.id)):
            scope = Scope.of(operator.role, operator.region_code)
            state = "" if operator.active else "（已停用）"
            click.echo(f"{operator.id}\t{operator.username}\t{scope.label}{state}")


@operator_cli.command("disable")
@click.argument("username")
def operator_disable(username: str) -> None:
    """Disable an account (its sessions end at once)."""
    with _services().db.Session.begin() as session:
        operator = operators.find(session, username)
        if operator is None:
            _fail(f"没有账号 {username}")
            return
        operator.active = False
        operators.audit(
            session,
            None,
            "operator_disable",
            summary=f"停用账号 {username}",
            target=operator,
            actor=_actor(),
        )
    click.echo(f"已停用 {username}")


@operator_cli.command("password")
@click.argument("username")
@click.option("--password", help="For scripts; prompted (hidden, twice) when left out.")
def operator_password(username: str, password: str | None) -> None:
    """Set a new password (ends the account's other sessions)."""
    if password is None:
        password = click.prompt("新密码", hide_input=True, confirmation_prompt="再次输入新密码")
    try:
        with _services().db.Session.begin() as session:
            operator = operators.find(session, username)
            if operator is None:
                _fail(f"没有账号 {username}")
                return
            operators.set_password(operator, password or "")
            operators.audit(
                session,
                None,
                "operator_password",
                summary=f"重设密码 {username}",
                target=operator,
                actor=_actor(),
            )
    except ValidationError as exc:
        _fail(exc.hint)
    click.echo(f"已重设 {username} 的密码")


# -- notices ---------------------------------------------------------------------------------


def _template(session: Session, ref: str) -> NoticeTemplate | None:
    query = select(NoticeTemplate).where(NoticeTemplate.template_id == ref)
    if ref.isdigit():
        query = select(NoticeTemplate).where(
            (NoticeTemplate.id == int(ref)) | (NoticeTemplate.template_id == ref)
        )
    return session.scalar(query)


@notice_cli.command("send")
@click.option(
    "--template",
    "template_ref",
    required=True,
    help="Our template number or its WeChat template_id.",
)
@click.option("--data", "pairs", multiple=True, help="key=value, once per template key.")
@click.option(
    "--audience",
    multiple=True,
    default=("all",),
    help="all, region=<code>, team=<id>, skill=<专业领域>, time=<服务时间>; repeatable.",
)
@click.option("--url", default=None, help="The link the message opens.")
@click.option("--activity", "activity_id", type=int, default=None, help="The activity it is about.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def notice_send(
    template_ref: str,
    pairs: tuple[str, ...],
    audience: tuple[str, ...],
    url: str | None,
    activity_id: int | None,
    yes: bool,
) -> None:
    """Send a notice to volunteers (province-wide scope)."""
    data: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            _fail(f"--data 应为 key=value：{pair}")
        data[key.strip()] = value
    scope = Scope()
    services = _services()
    try:
        with services.db.Session.begin() as session:
            template = _template(session, template_ref)
            if template is None:
                _fail(f"没有模板 {template_ref}（先在控制台「模板」页登记）")
                return
            chosen = notices.Audience.parse_pairs(audience)
            draft = notices.check_draft(
                session,
                scope,
                template_pk=template.id,
                data=data,
                url=url,
                audience=chosen,
                activity_id=activity_id,
            )
            count = notices.count_recipients(session, scope, chosen)
            click.echo(
                f"受众：{chosen.describe(scope, draft.team_name, draft.need_no)}，共 {count} 人"
            )
            if count == 0:
                _fail("没有符合条件的接收人")
            if not yes and not click.confirm("确认发送？"):
                _fail("已取消")
            notice = notices.create_notice(session, scope, draft, None, None, actor_name=_actor())
            notice_id = notice.id
    except notices.DraftError as exc:
        for key, hint in exc.errors.items():
            click.echo(f"✗ {key}：{hint}", err=True)
        sys.exit(1)
    except ValidationError as exc:
        _fail(exc.hint)
    current_app.extensions["notice_queue"].enqueue(notice_id)
    click.echo(
        f"通知 #{notice_id} 已加入发送队列。查看进度：flask --app app notice status {notice_id}"
    )


@notice_cli.command("status")
@click.argument("notice_id", type=int)
def notice_status(notice_id: int) -> None:
    """Progress of a notice: sent, failed, pending, rate and ETA."""
    from models.notice import Notice

    with _services().db.Session() as session:
        notice = session.get(Notice, notice_id)
        if notice is None:
            _fail(f"没有通知 #{notice_id}")
            return
        p = notices.progress(session, notice)
    eta = f"，预计还需 {p.eta_seconds} 秒" if p.eta_seconds is not None else ""
    click.echo(
        f"通知 #{notice_id}：{p.status_label} {p.percent}%  共 {p.total}，已发送 {p.sent}，"
        f"失败 {p.failed}，待发送 {p.pending}，已取消 {p.cancelled}，"
        f"平均 {p.rate:.1f} 条/秒{eta}"
    )
    if p.stop_reason:
        click.echo(f"停止原因：{p.stop_reason}")


@notice_cli.command("control")
@click.argument("notice_id", type=int)
@click.argument("action", type=click.Choice(sorted(notices.CONTROLS)))
def notice_control(notice_id: int, action: str) -> None:
    """Pause, resume or cancel a notice."""
    from models.notice import Notice

    try:
        with _services().db.Session.begin() as session:
            notice = session.get(Notice, notice_id)
            if notice is None:
                _fail(f"没有通知 #{notice_id}")
                return
            requeue = notices.control(session, notice, action, None, None, actor_name=_actor())
    except ValidationError as exc:
        _fail(exc.hint)
    if requeue:
        current_app.extensions["notice_queue"].enqueue(notice_id)
    click.echo(f"通知 #{notice_id}：{notices.CONTROLS[action][1]}")
