"""/verify/<code>: is a service certificate genuine, and what does it say (masked)?
/verify/<code>.pdf: the PDF as issued (the code is 80 random bits, given only to its holder)."""

from __future__ import annotations

from typing import cast

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue

from extensions import Services
from services import certificates

bp = Blueprint("verify", __name__, template_folder="templates")

STATE_TEXT = {
    certificates.GENUINE: ("真实有效", "本证明由本平台出具，内容未被改动。"),
    certificates.SUPERSEDED: (
        "已被新证明取代",
        "本证明曾由本平台出具，之后已出具新的证明，请以新证明为准。",
    ),
    certificates.TAMPERED: ("校验失败", "本证明的存档内容与出具时不一致，不能作为有效证明。"),
    certificates.UNKNOWN: ("未找到", "没有找到这个验证码对应的证明，请核对验证码。"),
}


def _services() -> Services:
    return cast(Services, current_app.extensions["services"])


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


@bp.get("/verify")
def verify_form() -> ResponseReturnValue:
    code = request.args.get("code", "")
    if code:
        return verify_page(code)
    return render_template("public/verify.html", result=None, code="", states=STATE_TEXT)


@bp.get("/verify/<code>")
def verify_page(code: str) -> ResponseReturnValue:
    if code.lower().endswith(".pdf"):
        return verify_pdf(code[:-4])
    with _services().db.Session() as session:
        result = certificates.verify(session, code)
    status = 404 if result.state == certificates.UNKNOWN else 200
    return (
        render_template(
            "public/verify.html",
            result=result,
            code=certificates.normalise_code(code) or code[:40],
            states=STATE_TEXT,
        ),
        status,
    )


def verify_pdf(code: str) -> ResponseReturnValue:
    normalised = certificates.normalise_code(code)
    if normalised is None:
        abort(404)
    settings = _services().settings
    with _services().db.Session.begin() as session:
        pdf = certificates.pdf_of(
            session,
            normalised,
            base_url=settings.public_base_url,
            font_path=settings.certificate_font,
        )
    if pdf is None:
        abort(404)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="certificate-{normalised}.pdf"'},
    )
