"""通知: compose (template values, audience, link), preview with the recipient count, test send
to oneself, send; progress with pause / resume / cancel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from wtforms import SelectChoice

from console.blueprint import bp, client_ip, services, user
from console.forms import ActionForm, AudienceForm, region_options, team_menu, team_number_box
from domain.errors import ValidationError
from models.activity import LISTED_STATUSES, PUBLISHED, Activity
from models.notice import (
    DELIVERY_LABELS,
    RECIPIENT_STATUS_LABELS,
    Notice,
    NoticeRecipient,
    NoticeTemplate,
)
from models.team import Team
from services import activities, needs_notices, notices, operators
from wechat.errors import WeChatAPIError
from worker.queue import NoticeQueue

PAGE_SIZE = 50
ERRCODE_TEXT = {
    -3: "发送程序异常（多次重试后）",
    -2: "无法连接微信（多次重试后）",
    -1: "微信系统繁忙（多次重试后）",
    40001: "access_token 无效",
    40003: "openid 无效",
    40037: "模板ID无效",
    42001: "access_token 过期",
    43004: "用户已取消关注",
    43101: "用户拒收消息",
    45009: "接口调用超过限额（多次重试后）",
    47003: "模板数据不符合要求",
}


def _notice(session: Session, notice_id: int) -> Notice:
    notice = notices.get_visible(session, user().scope, notice_id)
    if notice is None:
        abort(404)
    return notice


@bp.get("/notices", endpoint="notices")
def notices_list() -> ResponseReturnValue:
    with services().db.Session() as session:
        found = session.scalars(
            notices.visible_notices(user().scope).order_by(Notice.id.desc()).limit(PAGE_SIZE)
        ).all()
        titles = dict(
            session.execute(
                select(NoticeTemplate.id, NoticeTemplate.title).where(
                    NoticeTemplate.id.in_({n.template_id for n in found})
                )
            ).all()
        )
        counts: dict[int, dict[str, int]] = {}
        for notice_id, status, n in session.execute(
            select(NoticeRecipient.notice_id, NoticeRecipient.status, func.count())
            .where(NoticeRecipient.notice_id.in_([n.id for n in found]))
            .group_by(NoticeRecipient.notice_id, NoticeRecipient.status)
        ):
            counts.setdefault(notice_id, {})[status] = int(n)
    return render_template("console/notices.html", notices=found, titles=titles, counts=counts)


# -- composing -------------------------------------------------------------------------------


def _audience_choices(form: AudienceForm, session: Session) -> None:
    scope = user().scope
    form.region.choices = region_options(scope)
    menu = team_menu(session, scope, "（不限）")
    if menu is None:
        team_number_box(form.team_id)
    else:
        form.team_id.choices = menu


def _team_id(session: Session, text: str) -> int | None:
    """The menu's team id, or the id of a team number typed in the box (many teams)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text:
        return None
    found = session.scalar(select(Team.id).where(Team.team_no == text.upper()))
    if found is None:
        raise ValidationError("没有这个服务队编号，请核对。")
    return int(found)


def _audience(form: AudienceForm, session: Session) -> notices.Audience:
    activity = form.audience_activity.data or ""
    return notices.Audience(
        region=form.region.data or None,
        team_id=_team_id(session, form.team_id.data or ""),
        skills=tuple(form.skills.data or ()),
        service_times=tuple(form.service_times.data or ()),
        activity_id=int(activity) if activity.isdigit() else None,
        activity_state=form.activity_state.data or "signed_up",
        need_id=request.values.get("need", type=int),
    )


def _activity_choices(
    form: AudienceForm, listed: Sequence[Activity], started: Activity | None
) -> None:
    """Any listed activity may narrow the audience; a notice started from an activity offers
    the volunteers signed up for it by default."""
    form.audience_activity.choices = [
        SelectChoice("", "（不限）"),
        *(SelectChoice(str(a.id), f"[{a.id}] {a.title}") for a in listed),
    ]
    if started is not None and request.method == "GET":
        if all(a.id != started.id for a in listed):
            form.audience_activity.choices.insert(
                1, SelectChoice(str(started.id), f"[{started.id}] {started.title}")
            )
        form.audience_activity.data = str(started.id)
        form.activity_state.data = "signed_up"


@bp.route("/notices/new", methods=["GET", "POST"])
def notices_new() -> ResponseReturnValue:
    svc = services()
    scope = user().scope
    template_pk = request.values.get("template", type=int)
    activity_id = request.values.get("activity", type=int)
    need_id = request.values.get("need", type=int)  # 「通知这些志愿者」 from a need's suggestions
    form = AudienceForm()
    context: dict[str, Any] = {"form": form, "errors": {}, "count": None, "draft": None}
    with svc.db.Session() as session:
        _audience_choices(form, session)
        templates = notices.active_templates(session)
        template = next((t for t in templates if t.id == template_pk), None)
        if template is None and len(templates) == 1:
            template = templates[0]
        activity = activities.get_visible(session, scope, activity_id) if activity_id else None
        need = needs_notices.visible_need(session, scope, need_id) if need_id else None
        if need_id and need is None:
            abort(404)
        published = session.scalars(
            activities.visible(scope)
            .where(Activity.status == PUBLISHED)
            .order_by(Activity.starts_at.desc())
            .limit(100)
        ).all()
        listed = session.scalars(
            activities.visible(scope)
            .where(Activity.status.in_(LISTED_STATUSES))
            .order_by(Activity.starts_at.desc())
            .limit(100)
        ).all()
        _activity_choices(form, listed, activity)
        values: dict[str, str] = {}
        if template is not None and activity is not None and request.method == "GET":
            values = notices.prefill(template, activity, activities.team_name(session, activity))
        if template is not None and request.method == "POST":
            values = {f["key"]: request.form.get(f"data-{f['key']}", "") for f in template.fields}
        context.update(
            templates=templates,
            template=template,
            activity=activity,
            need=need,
            published=published,
            values=values,
            test_openid=user().openid,
            rule_hint=lambda key: notices.rule_for(key).hint,
            unverified_hint=notices.UNVERIFIED_HINT,
            sandbox=_talks_to_the_fake(),
        )
        if request.method == "POST" and template is not None and form.validate_on_submit():
            result = _submit(session, template, activity, form, values, context)
            if result is not None:
                return result
        elif request.method == "POST" and form.errors:
            context["errors"] = {k: "；".join(v) for k, v in form.errors.items()}
    return render_template("console/notice_form.html", **context)


def _submit(
    session: Session,
    template: NoticeTemplate,
    activity: Activity | None,
    form: AudienceForm,
    values: dict[str, str],
    context: dict[str, Any],
) -> ResponseReturnValue | None:
    """Preview, test send, or send. Returns a response to send instead of the form, or None."""
    scope = user().scope
    action = request.form.get("action", "preview")
    try:
        audience = _audience(form, session)
        draft = notices.check_draft(
            session,
            scope,
            template_pk=template.id,
            data=values,
            url=form.url.data,
            audience=audience,
            activity_id=activity.id if activity else None,
        )
        count = notices.count_recipients(session, scope, audience)
    except notices.DraftError as exc:
        context["errors"] = exc.errors
        return None
    except ValidationError as exc:
        context["errors"] = {"audience": exc.hint}
        return None
    context.update(
        count=count,
        draft=draft,
        audience_text=audience.describe(scope, draft.team_name, draft.need_no),
    )
    if action == "test":
        _test_send(draft)
    elif action == "send" and not draft.template.verified:
        flash(notices.UNVERIFIED_HINT, "error")
    elif action == "send":
        if count == 0:
            flash("没有符合条件的接收人，请调整受众。", "error")
        elif request.form.get("expected", type=int) != count:
            flash(f"接收人数已变为 {count} 人，请核对后再确认发送。", "error")
        else:
            return _send(draft)
    return None


def _test_send(draft: notices.Draft) -> None:
    svc = services()
    openid = user().openid
    if not openid:
        flash("请先在「账号」页绑定接收测试消息的微信号。", "error")
        return
    values = notices.test_values(draft.template, draft.data)
    try:
        svc.api.send_template(openid, draft.template.template_id, values, url=draft.url)
    except WeChatAPIError as error:
        if error.errcode == notices.INVALID_TEMPLATE_ERRCODE:
            _mark_verified(draft.template.id, known=False)
        flash(
            f"测试消息发送失败：{ERRCODE_TEXT.get(error.errcode, error.errmsg)}（{error.errcode}）",
            "error",
        )
        return
    _mark_verified(draft.template.id, known=True)
    draft.template.verified = True
    with svc.db.Session.begin() as session:
        operators.audit(
            session,
            user(),
            "notice_test",
            summary=f"发送测试消息：{draft.template.title}",
            detail={"data": values, "url": draft.url},
            ip=client_ip(),
        )
    flash(f"测试消息已发送到您的微信（标有{notices.TEST_MARK}），请查看。")


def _talks_to_the_fake() -> bool:
    """Sandbox mode, or an API base on this machine: the fake WeChat API (sandbox/)."""
    settings = services().settings
    host = urlsplit(settings.wechat_api_base_url).hostname
    return settings.sandbox or host in ("127.0.0.1", "localhost", "::1")


def _mark_verified(template_pk: int, *, known: bool) -> None:
    with services().db.Session.begin() as session:
        template = session.get(NoticeTemplate, template_pk)
        if template is not None:
            notices.mark_verified(session, template, known)


def _send(draft: notices.Draft) -> ResponseReturnValue | None:
    svc = services()
    try:
        with svc.db.Session.begin() as session:
            notice = notices.create_notice(session, user().scope, draft, user(), client_ip())
            notice_id = notice.id
    except ValidationError as exc:
        flash(exc.hint, "error")
        return None
    _queue().enqueue(notice_id)
    flash("通知已加入发送队列。")
    return redirect(url_for("console.notices_show", notice_id=notice_id))


def _queue() -> NoticeQueue:
    queue: NoticeQueue = current_app.extensions["notice_queue"]
    return queue


# -- progress and controls -------------------------------------------------------------------


@bp.get("/notices/<int:notice_id>")
def notices_show(notice_id: int) -> ResponseReturnValue:
    with services().db.Session() as session:
        notice = _notice(session, notice_id)
        template = session.get(NoticeTemplate, notice.template_id)
        progress = notices.progress(session, notice)
        breakdown = notices.breakdown(session, notice.id)
        activity = session.get(Activity, notice.activity_id) if notice.activity_id else None
    controls = [
        (action, label)
        for action, (statuses, label) in notices.CONTROLS.items()
        if notice.status in statuses
    ]
    return render_template(
        "console/notice.html",
        notice=notice,
        template=template,
        progress=progress,
        breakdown=breakdown,
        activity=activity,
        controls=controls,
        action_form=ActionForm(),
        errcode_text=ERRCODE_TEXT,
        delivery_labels=DELIVERY_LABELS,
        status_labels=RECIPIENT_STATUS_LABELS,
    )


@bp.get("/notices/<int:notice_id>/progress")
def notices_progress(notice_id: int) -> ResponseReturnValue:
    with services().db.Session() as session:
        notice = _notice(session, notice_id)
        return jsonify(notices.progress(session, notice).to_json())


@bp.post("/notices/<int:notice_id>/<action>")
def notices_control(notice_id: int, action: str) -> ResponseReturnValue:
    if action not in notices.CONTROLS:
        abort(404)
    try:
        with services().db.Session.begin() as session:
            requeue = notices.control(
                session, _notice(session, notice_id), action, user(), client_ip()
            )
    except ValidationError as exc:
        flash(exc.hint, "error")
    else:
        if requeue:
            _queue().enqueue(notice_id)
        flash(f"已{notices.CONTROLS[action][1]}。")
    return redirect(url_for("console.notices_show", notice_id=notice_id))
