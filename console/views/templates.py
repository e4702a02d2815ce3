"""模板: the account's template messages (province operators register them; all may use them)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from console.blueprint import bp, client_ip, province_only, services, user
from console.forms import ActionForm, TemplateForm
from domain.errors import ValidationError
from models.notice import NoticeTemplate
from services import notices, operators
from wechat.errors import WeChatAPIError


@bp.get("/templates", endpoint="templates")
def templates_list() -> ResponseReturnValue:
    with services().db.Session() as session:
        found = session.scalars(select(NoticeTemplate).order_by(NoticeTemplate.id)).all()
    rules = {key: rule.hint for key, rule in notices.VALUE_RULES.items()}
    return render_template(
        "console/templates.html",
        templates=found,
        action_form=ActionForm(),
        rules=rules,
        rule_for=notices.rule_for,
    )


def _save(form: TemplateForm, template_pk: int | None) -> int | None:
    try:
        with services().db.Session.begin() as session:
            template = session.get(NoticeTemplate, template_pk) if template_pk else None
            saved = notices.save_template(
                session,
                template,
                template_id=form.template_id.data or "",
                title=form.title.data or "",
                fields=notices.parse_fields(form.fields.data or ""),
                actor=user(),
                ip=client_ip(),
            )
            return saved.id
    except ValidationError as exc:
        flash(exc.hint, "error")
        return None


@bp.route("/templates/new", methods=["GET", "POST"])
@province_only
def templates_new() -> ResponseReturnValue:
    form = TemplateForm()
    if form.validate_on_submit() and _save(form, None) is not None:
        flash("模板已登记。")
        return redirect(url_for("console.templates"))
    return render_template("console/template_form.html", form=form, template=None)


@bp.route("/templates/<int:template_pk>/edit", methods=["GET", "POST"])
@province_only
def templates_edit(template_pk: int) -> ResponseReturnValue:
    with services().db.Session() as session:
        template = session.get(NoticeTemplate, template_pk)
        if template is None:
            abort(404)
    form = TemplateForm()
    if not form.is_submitted():
        form.template_id.data = template.template_id
        form.title.data = template.title
        form.fields.data = notices.fields_text(template.fields)
    elif form.validate() and _save(form, template_pk) is not None:
        flash("模板已保存。")
        return redirect(url_for("console.templates"))
    return render_template("console/template_form.html", form=form, template=template)


@bp.post("/templates/<int:template_pk>/toggle")
@province_only
def templates_toggle(template_pk: int) -> ResponseReturnValue:
    with services().db.Session.begin() as session:
        template = session.get(NoticeTemplate, template_pk)
        if template is None:
            abort(404)
        template.active = not template.active
        operators.audit(
            session,
            user(),
            "template_enable" if template.active else "template_disable",
            summary=f"{'启用' if template.active else '停用'}模板：{template.title}",
            target=template,
            ip=client_ip(),
        )
    return redirect(url_for("console.templates"))


@bp.post("/templates/sync")
@province_only
def templates_sync() -> ResponseReturnValue:
    svc = services()
    try:
        listed = svc.api.get_templates()
    except WeChatAPIError as error:
        flash(f"无法从微信获取模板列表（错误码 {error.errcode}），请稍后再试或手动登记。", "error")
        return redirect(url_for("console.templates"))
    try:
        with svc.db.Session.begin() as session:
            count = notices.sync_templates(session, listed, user(), client_ip())
    except ValidationError as exc:
        flash(exc.hint, "error")
    else:
        flash(f"已从微信同步 {count} 个模板。")
    return redirect(url_for("console.templates"))
