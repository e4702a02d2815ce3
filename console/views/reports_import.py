"""批量导入志愿者: template download, upload and check, preview, confirm, result.

Nothing is written at upload: the checked rows wait, encrypted, in Redis for the operator's
confirmation (30 minutes), and are checked against the database again on confirmation.
"""

from __future__ import annotations

import secrets

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.blueprint import bp, client_ip, services, user
from domain import clock
from domain.errors import ValidationError
from services import imports, operators
from services.reports_export import XLSX_MIME
from services.volunteers import CONSENT_VERSION

PREVIEW_SECONDS = 30 * 60


def preview_key(token: str) -> str:
    return services().keys.volunteer_import(user().id, token)


@bp.get("/volunteers/import", endpoint="volunteers_import")
def import_page() -> ResponseReturnValue:
    return render_template("console/volunteers_import.html", preview=None)


@bp.get("/volunteers/import/template.xlsx")
def import_template() -> Response:
    response = Response(imports.template_bytes(), mimetype=XLSX_MIME)
    response.headers["Content-Disposition"] = (
        'attachment; filename="volunteers-template.xlsx"; '
        "filename*=UTF-8''%E5%BF%97%E6%84%BF%E8%80%85%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF.xlsx"
    )
    return response


@bp.post("/volunteers/import")
def import_upload() -> ResponseReturnValue:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("请选择要导入的 .xlsx 文件。", "error")
        return redirect(url_for("console.volunteers_import"))
    svc = services()
    try:
        lines = imports.read_rows(upload.stream)
    except ValidationError as exc:
        flash(exc.hint, "error")
        return redirect(url_for("console.volunteers_import"))
    if not lines:
        flash("文件中没有数据行（从第2行开始填写）。", "error")
        return redirect(url_for("console.volunteers_import"))
    with svc.db.Session() as session:
        preview = imports.check_rows(session, lines, user().scope, svc.pii, clock.beijing_date())
    token = secrets.token_urlsafe(12)
    svc.redis.set(preview_key(token), imports.seal(preview, svc.pii), ex=PREVIEW_SECONDS)
    return render_template(
        "console/volunteers_import.html", preview=preview, token=token, filename=upload.filename
    )


@bp.post("/volunteers/import/<token>")
def import_confirm(token: str) -> ResponseReturnValue:
    svc = services()
    key = preview_key(token[:40])
    sealed = svc.redis.get(key)
    if sealed is None:
        flash("预览已过期或已导入，请重新上传文件。", "error")
        return redirect(url_for("console.volunteers_import"))
    svc.redis.delete(key)
    preview = imports.unseal(sealed.decode() if isinstance(sealed, bytes) else sealed, svc.pii)
    if not preview.accepted and not preview.refused:
        abort(400)
    with svc.db.Session.begin() as session:
        outcome = imports.commit(session, preview, user().scope, svc.pii, clock.beijing_date())
        operators.audit(
            session,
            user(),
            "volunteer_import",
            summary=f"批量导入志愿者：新增{len(outcome.added)}人，未导入{len(outcome.refused)}行",
            detail={
                "added": len(outcome.added),
                "refused": len(outcome.refused),
                "rows": len(preview.rows),
                "consent": f"pending (version {CONSENT_VERSION} asked at first visit)",
            },
            ip=client_ip(),
        )
    return render_template("console/volunteers_import_result.html", outcome=outcome)
