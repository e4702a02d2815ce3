"""结对: the operators' list of 学会 team ↔ 县区 pairings in their scope, with adding and removing
(services.needs_pairings checks the scope and audits)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import DataRequired

from console.blueprint import bp, client_ip, services, user
from console.forms import ActionForm, options
from domain import regions
from domain.errors import ValidationError
from services import needs_pairings


class PairingForm(FlaskForm):
    # The service checks the choice (an approved 学会 team, a 县区 of the scope) and says why.
    team_id = SelectField(
        "学会服务队", validators=[DataRequired("请选择服务队")], validate_choice=False
    )
    county_code = SelectField(
        "县区", validators=[DataRequired("请选择县区")], validate_choice=False
    )


def _form() -> PairingForm:
    form = PairingForm()
    scope = user().scope
    with services().db.Session() as session:
        teams = needs_pairings.societies(session)
        form.team_id.choices = options(
            [("", "（选择学会服务队）")] + [(str(t.id), t.name) for t in teams]
        )
    counties = needs_pairings.county_choices(scope)
    form.county_code.choices = options(
        [("", "（选择县区）")]
        + [(c.code, f"{c.name}（{_prefecture_name(c.parent_code)}）") for c in counties]
    )
    return form


def _prefecture_name(code: str | None) -> str:
    division = regions.get(code or "")
    return division.name if division else ""


@bp.get("/needs/pairings", endpoint="needs_pairings")
def pairings_page() -> ResponseReturnValue:
    with services().db.Session() as session:
        rows = needs_pairings.pairings_in(session, user().scope)
    return render_template(
        "console/need_pairings.html", rows=rows, form=_form(), action_form=ActionForm()
    )


@bp.post("/needs/pairings", endpoint="needs_pairings_add")
def pairings_add() -> ResponseReturnValue:
    form = _form()
    if not form.validate_on_submit():
        flash("请选择学会服务队和县区。", "error")
        return redirect(url_for("console.needs_pairings"))
    try:
        with services().db.Session.begin() as session:
            needs_pairings.add_pairing(
                session,
                user().scope,
                user(),
                int(form.team_id.data) if (form.team_id.data or "").isdigit() else 0,
                form.county_code.data or "",
                client_ip(),
            )
    except ValidationError as exc:
        flash(exc.hint, "error")
    else:
        flash("已建立结对，该县区的需求将优先建议结对的服务队。")
    return redirect(url_for("console.needs_pairings"))


@bp.post("/needs/pairings/<int:pairing_id>/remove", endpoint="needs_pairings_remove")
def pairings_remove(pairing_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        flash("页面已过期，请重试。", "error")
        return redirect(url_for("console.needs_pairings"))
    try:
        with services().db.Session.begin() as session:
            text = needs_pairings.remove_pairing(
                session, user().scope, user(), pairing_id, client_ip()
            )
    except ValidationError as exc:
        flash(exc.hint, "error")
    else:
        flash(f"已解除结对：{text}")
    return redirect(url_for("console.needs_pairings"))
