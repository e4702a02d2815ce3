"""The PDF of a service certificate (志愿服务证明), drawn from its frozen content.

Chinese text uses Noto Sans CJK SC from Debian's fonts-noto-cjk (a .ttc collection; the SC face
is found by name). Nothing is downloaded: a missing font file is a configuration error.
"""

from __future__ import annotations

import io
from typing import Any

import segno
from fpdf import FPDF
from fpdf.fonts import FontFace

from services import fonts

__all__ = ["render"]

FONT = "cjk"
LEGAL_BASIS = (
    "本证明依据《志愿服务条例》和《志愿服务记录与证明出具办法（试行）》出具，"
    "记录由活动组织方确认。扫描二维码或访问下方网址可核验本证明的真伪。"
)


def _pdf(font_path: str) -> FPDF:
    fonts.require(font_path)
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.add_font(FONT, fname=font_path, collection_font_number=fonts.collection_index(font_path))
    pdf.set_creator("kjzy")
    return pdf


def _qr_png(url: str) -> io.BytesIO:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=6, border=2)
    buffer.seek(0)
    return buffer


def render(content: dict[str, Any], verify_url: str, font_path: str) -> bytes:
    pdf = _pdf(font_path)
    pdf.set_title(f"志愿服务证明 {content['code']}")
    pdf.add_page()
    pdf.set_font(FONT, size=24)
    pdf.cell(0, 16, "志愿服务证明", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10)
    pdf.cell(0, 6, f"验证码：{content['code']}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(FONT, size=12)
    pdf.multi_cell(0, 8, _statement(content), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _records_table(pdf, content["records"])
    pdf.ln(6)
    _footer(pdf, content, verify_url)
    return bytes(pdf.output())


def _statement(content: dict[str, Any]) -> str:
    period = content["period"]
    scope = "" if period == "全部记录" else f"在 {period} 期间，"
    return (
        f"兹证明 {content['name']}（身份证号 {content['id_number_masked']}，"
        f"志愿者编号 {content['volunteer_no']}）{scope}参加科技志愿服务活动 "
        f"{content['activity_count']} 次，经活动组织方确认的志愿服务时长累计 "
        f"{content['total_hours']} 小时。服务记录如下："
    )


def _records_table(pdf: FPDF, records: list[dict[str, str]]) -> None:
    pdf.set_font(FONT, size=9)
    heading = FontFace(fill_color=(235, 240, 245))
    with pdf.table(
        col_widths=(22, 48, 34, 38, 16, 16),
        headings_style=heading,
        line_height=6,
        text_align=("LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "LEFT"),
    ) as table:
        table.row(("日期", "活动名称", "地点", "组织方", "时长", "评价"))
        for record in records:
            table.row(
                (
                    record["date"],
                    record["title"],
                    record["place"],
                    record["organiser"],
                    f"{record['hours']} 小时",
                    record.get("evaluation") or "—",
                )
            )
        if not records:
            table.row(("—", "暂无经确认的服务记录", "", "", "0 小时", ""))


def _footer(pdf: FPDF, content: dict[str, Any], verify_url: str) -> None:
    if pdf.get_y() > pdf.h - 80:
        pdf.add_page()
    top = pdf.get_y()
    pdf.set_font(FONT, size=12)
    pdf.cell(120, 8, f"出具单位：{content['issuer']}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(120, 8, f"出具日期：{content['issued_on']}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(120, 8, f"验证码：{content['code']}", new_x="LMARGIN", new_y="NEXT")
    pdf.image(_qr_png(verify_url), x=pdf.w - pdf.r_margin - 36, y=top, w=36, h=36)
    pdf.set_y(max(pdf.get_y(), top + 38))
    pdf.set_font(FONT, size=9)
    pdf.multi_cell(0, 5, LEGAL_BASIS, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5, verify_url, new_x="LMARGIN", new_y="NEXT", link=verify_url)
