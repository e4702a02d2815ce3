"""需求: the operators of a need's region review it (发布, 退回 with a reason, 合并 into another
need), and see the needs of their scope, filtered and paged (services.needs_list; the export
takes the same filters), with needs unclaimed for 14 days flagged."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from console.blueprint import bp, client_ip, services, user
from console.forms import ActionForm, RejectForm, region_options
from domain.choices import SKILLS
from domain.errors import ValidationError
from models.need import REQUESTER_KINDS, STATUS_LABELS, Need
from services import needs, needs_list, needs_matching, needs_notices, needs_notify, operators
from services.needs_list import NeedFilters


class MergeForm(FlaskForm):
    into = StringField(
        "合并到需求编号",
        validators=[DataRequired("请填写要合并到的需求编号"), Length(max=20)],
    )


def _need_in_scope(session: Session, need_id: int) -> Need:
    need = session.get(Need, need_id)
    if need is None or not user().scope.allows(need.prefecture_code, need.county_code):
        abort(404)
    return need


@bp.get("/needs", endpoint="needs")
def needs_page() -> ResponseReturnValue:
    scope = user().scope
    filters = NeedFilters.from_args(request.args)
    page = request.args.get("page", "1")
    error = None
    with services().db.ReadSession() as session:  # the read replica, when there is one
        waiting = needs.pending_needs(session, scope)
        try:
            conditions = filters.conditions(scope)
        except ValidationError as exc:
            error, filters = exc.hint, NeedFilters()
            conditions = filters.conditions(scope)
        found = needs_list.need_page(session, conditions, int(page) if page.isdigit() else 1)
    args = filters.as_args()
    return render_template(
        "console/needs.html",
        waiting=waiting,
        found=found,
        stale={row.need.id for row in found.rows if needs.is_stale(row.need)},
        filters=filters,
        args=args,
        page_args=lambda n: urlencode({**args, "page": n}),
        error=error,
        regions=region_options(scope),
        statuses=STATUS_LABELS,
        fields=SKILLS,
        kinds=REQUESTER_KINDS,
        public=needs.public_need,
        public_path=needs.public_path,
        action_form=ActionForm(),
        reject_form=RejectForm(),
        merge_form=MergeForm(),
        stale_days=needs.STALE_DAYS,
    )


def _review(need_id: int, action: str, reason: str = "", into_no: str = "") -> ResponseReturnValue:
    svc = services()
    scope = user().scope
    try:
        with svc.db.Session.begin() as session:
            need = _need_in_scope(session, need_id)
            reviewer = user().username
            if action == "publish":
                needs.publish_need(need, scope, reviewer)
                summary = f"发布需求：{need.need_no}"
            elif action == "reject":
                needs.reject_need(need, scope, reviewer, reason)
                summary = f"退回需求：{need.need_no}（{need.reject_reason}）"
            else:
                into = needs.find_need(session, into_no)
                if into is None or not scope.allows(into.prefecture_code, into.county_code):
                    raise needs.NeedError(f"没有找到本辖区内的需求 {into_no.strip()}")
                needs.merge_need(need, into, scope, reviewer)
                summary = f"合并需求：{need.need_no} → {into.need_no}"
            operators.audit(
                session, user(), f"need_{action}", summary=summary, target=need, ip=client_ip()
            )
            text = needs_notify.status_text(need, into_no=into_no.strip().upper() or None)
    except needs.NeedError as exc:
        flash(str(exc), "error")
        return redirect(url_for("console.needs"))
    told = needs_notify.tell_poster(svc.api, need, text)
    flash(summary + ("，已通知提交人。" if told else "，但未能通知提交人（请另行联系）。"))
    return redirect(url_for("console.needs"))


@bp.post("/needs/<int:need_id>/publish")
def needs_publish(need_id: int) -> ResponseReturnValue:
    return _review(need_id, "publish")


@bp.post("/needs/<int:need_id>/reject")
def needs_reject(need_id: int) -> ResponseReturnValue:
    form = RejectForm()
    if not form.validate_on_submit():
        flash("退回需要填写原因（不超过200字）。", "error")
        return redirect(url_for("console.needs"))
    return _review(need_id, "reject", reason=form.reason.data or "")


@bp.post("/needs/<int:need_id>/merge")
def needs_merge(need_id: int) -> ResponseReturnValue:
    form = MergeForm()
    if not form.validate_on_submit():
        flash("合并需要填写需求编号。", "error")
        return redirect(url_for("console.needs"))
    return _review(need_id, "merge", into_no=form.into.data or "")


@bp.get("/needs/<int:need_id>/suggestions", endpoint="needs_suggestions")
def needs_suggestions(need_id: int) -> ResponseReturnValue:
    with services().db.Session() as session:
        need = _need_in_scope(session, need_id)
        result = needs_matching.suggest(session, need)
        view = needs.public_need(need)
        notifiable = need.status in needs_notices.NOTIFIABLE
        reach = needs_notices.recipient_count(session, user().scope, need) if notifiable else 0
    return render_template(
        "console/need_suggestions.html",
        need=view,
        need_id=need_id,
        result=result,
        notifiable=notifiable,
        reach=reach,
    )
