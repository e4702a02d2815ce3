"""Bulk import of volunteers: template, a 30-row file covering every rule of the chat form,
duplicates within the file and against the database, nothing written before confirmation,
the same file twice, scope, and claiming an imported record by registering in chat."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from domain.idcard import compute_check_digit
from infra.db import Database
from models.operator import AuditEntry
from models.volunteer import Volunteer
from services.imports import HEADERS
from tests.test_console_pages import region_client
from tests.test_console_support import csrf_token, province_client  # noqa: F401
from tests.volunteer_steps import GOOD_ID, register
from tests.wechat_user import WeChatUser


def id_number(area: str, birth: str, sequence: int) -> str:
    first17 = f"{area}{birth}{sequence:03d}"
    return first17 + compute_check_digit(first17)


def wrong_check(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


ADULT = id_number("620102", "19900101", 11)
OK = "13812345678"
GOOD = {"education": "本科", "occupation": "教师", "skills": "科学普及", "times": "周末"}


def row(name: str, card: Any, phone: Any = OK, education: str = "本科",
        prefecture: str = "兰州市", county: str = "城关区", employer: str = "",
        occupation: str = "教师", skills: str = "科学普及", specialty: str = "",
        times: str = "周末") -> list[Any]:  # fmt: skip
    return [name, card, phone, education, prefecture, county, employer, occupation, skills,
            specialty, times]  # fmt: skip


# (row, what the refusal says, or None for a row that is imported)
ROWS: list[tuple[list[Any], str | None]] = [
    (row("王一", ADULT), None),
    (row("李二", id_number("620502", "19851231", 22), prefecture="天水", county="秦州"), None),
    (row("赵三", id_number("620200", "19700615", 33), prefecture="嘉峪关市", county=""), None),
    (row("钱四", id_number("110105", "19880808", 44), prefecture="省外", county=""), None),
    (row("孙五", id_number("620102", "19920202", 55), phone=13912345678), None),
    (row("周六", id_number("620102", "19930303", 66), skills="科学普及、农业技术 信息技术"), None),
    (
        row(
            "吴七",
            id_number("620102", "19940404", 77),
            education="硕士",
            employer="兰州大学",
            specialty="果树栽培",
        ),
        None,
    ),
    (
        row(
            "阿依古丽·买买提",
            id_number("622926", "19950505", 88),
            prefecture="临夏州",
            county="东乡",
        ),
        None,
    ),
    (row("郑九", id_number("620102", "19960606", 99).lower()), None),
    (
        row(
            "冯十",
            id_number("620102", "19970707", 100),
            occupation="农技人员",
            times="周末、节假日",
        ),
        None,
    ),
    (row("张3", id_number("620102", "19800101", 101)), "姓名"),
    (row("", id_number("620102", "19800101", 102)), "姓名"),
    (row("陈校验", wrong_check(id_number("620102", "19800101", 103))), "身份证号"),
    (row("褚十五", "620102800101123"), "身份证号"),
    (row("卫未来", id_number("620102", "20990101", 104)), "身份证号"),
    (row("蒋少年", id_number("620102", "20150101", 105)), "未满18周岁"),
    (row("沈数字", 620102199001011234), "身份证号"),
    (row("韩手机", id_number("620102", "19800101", 106), phone="12345"), "手机号"),
    (row("杨无号", id_number("620102", "19800101", 107), phone=""), "手机号"),
    (row("朱初中", id_number("620102", "19800101", 108), education="初中"), "学历"),
    (row("秦学历", id_number("620102", "19800101", 109), education="幼儿园"), "学历"),
    (row("尤西安", id_number("620102", "19800101", 110), prefecture="西安市"), "不是甘肃省的市州"),
    (row("许错县", id_number("620102", "19800101", 111), county="秦州区"), "不在兰州市"),
    (row("何缺县", id_number("620102", "19800101", 112), county=""), "请填写兰州市的县区"),
    (row("吕职业", id_number("620102", "19800101", 113), occupation="宇航员"), "职业/身份"),
    (row("施技能", id_number("620102", "19800101", 114), skills=""), "专业领域"),
    (row("张时间", id_number("620102", "19800101", 115), times="凌晨"), "可服务时间"),
    (row("孔专长", id_number("620102", "19800101", 116), specialty="长" * 201), "专长"),
    (row("曹重复", ADULT), "与第2行重复"),
    (row("严已注册", GOOD_ID), "已注册为志愿者"),
]


def workbook_bytes(rows: Sequence[list[Any]], headers: Sequence[str] = HEADERS) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(headers))
    for n, values in enumerate(rows):
        sheet.append(values)
        if n == 4:
            sheet.append([None] * len(headers))  # an empty row is skipped, not refused
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client: FlaskClient, data: bytes, name: str = "志愿者.xlsx") -> str:
    token = csrf_token(client, "/console/volunteers/import")
    response = client.post(
        "/console/volunteers/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def confirm(client: FlaskClient, page: str) -> str:
    action = re.search(r'action="(/console/volunteers/import/[^"]+)"', page)
    assert action, "no 确认导入 form"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    response = client.post(action.group(1), data={"csrf_token": token.group(1)},
                           follow_redirects=True)  # fmt: skip
    return response.get_data(as_text=True)


def refusals(page: str) -> dict[int, str]:
    table = page.split('id="refused"')[1].split("</table>")[0]
    found = re.findall(
        r"<tr><td>(\d+)</td><td>[^<]*</td><td>[^<]*</td><td>([^<]*)</td></tr>", table
    )
    return {int(line): reason for line, reason in found}


def count(page: str, element: str) -> int:
    found = re.search(rf'id="{element}">(\d+)<', page)
    assert found, element
    return int(found.group(1))


def volunteers(db: Database) -> int:
    with db.Session() as session:
        return int(session.scalar(select(func.count(Volunteer.id))) or 0)


def line_of(index: int) -> int:
    """The sheet line of ROWS[index] (header on line 1, an empty line after the 5th row)."""
    return index + 2 + (1 if index > 4 else 0)


def test_template_lists_the_columns_and_the_rules(
    province_client: FlaskClient,  # noqa: F811
) -> None:
    page = province_client.get("/console/volunteers").get_data(as_text=True)
    assert "/console/volunteers/import" in page
    response = province_client.get("/console/volunteers/import/template.xlsx")
    book = load_workbook(io.BytesIO(response.data))
    assert [c.value for c in book["志愿者"][1]] == list(HEADERS)
    notes = [r[1] for r in book["填写说明"].iter_rows(values_only=True) if r[1]]
    assert any("本科" in n for n in notes) and any("农业技术" in n for n in notes)


def test_a_30_row_file_is_checked_row_by_row_and_written_only_on_confirmation(
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    make_user: Any,
) -> None:
    registered: WeChatUser = make_user()
    assert "注册成功" in register(registered)
    assert len(ROWS) == 30
    data = workbook_bytes([values for values, _ in ROWS])

    page = upload(province_client, data)
    assert count(page, "accepted-count") == 10 and count(page, "refused-count") == 20
    assert "尚未写入任何数据" in page and volunteers(db) == 1
    assert ADULT not in page and "6201**********0114"[:4] in page
    reasons = refusals(page)
    for index, (_values, expected) in enumerate(ROWS):
        if expected is not None:
            assert expected in reasons[line_of(index)], (
                line_of(index),
                reasons.get(line_of(index)),
            )
    assert len(reasons) == 20

    result = confirm(province_client, page)
    assert count(result, "added-count") == 10 and count(result, "refused-count") == 20
    assert volunteers(db) == 11
    with db.Session() as session:
        imported = session.scalars(
            select(Volunteer).where(Volunteer.imported_at.is_not(None))
        ).all()
        assert len(imported) == 10
        assert all(v.openid is None and v.consented_at is None for v in imported)
        assert all(v.awaiting_claim for v in imported)
        by_name = {v.name: v for v in imported}
        assert by_name["李二"].county_code == "620502" and by_name["钱四"].prefecture_code
        assert by_name["周六"].skills == ["科学普及", "农业技术", "信息技术"]
        assert by_name["孙五"].phone == "13912345678" and by_name["吴七"].education == "硕士研究生"
        assert by_name["阿依古丽·买买提"].county_code == "622926"
        (audit,) = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "volunteer_import")
        ).all()
        assert audit.detail["added"] == 10 and audit.detail["refused"] == 20

    # The same file again adds nothing: every earlier row is now a duplicate.
    again = upload(province_client, data)
    assert count(again, "accepted-count") == 0 and "确认导入" not in again
    assert all("已注册为志愿者" in refusals(again)[line_of(i)] for i in range(10))
    assert volunteers(db) == 11
    # A confirmation cannot be replayed.
    stale = province_client.post(
        re.search(r'action="(/console/volunteers/import/[^"]+)"', page).group(1),  # type: ignore[union-attr]
        data={"csrf_token": csrf_token(province_client, "/console/volunteers/import")},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "预览已过期或已导入" in stale and volunteers(db) == 11


def test_an_imported_volunteer_claims_the_record_by_registering_in_chat(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    wechat_user: WeChatUser,
) -> None:
    confirm(province_client, upload(province_client, workbook_bytes([ROWS[0][0]])))
    with db.Session() as session:
        number = session.scalar(select(Volunteer.volunteer_no).where(Volunteer.name == "王一"))

    reply = register(wechat_user, id_number=ADULT, name="王一")
    assert "注册成功" in reply and str(number) in reply
    assert volunteers(db) == 1
    with db.Session() as session:
        claimed = session.scalar(select(Volunteer).where(Volunteer.volunteer_no == number))
        assert claimed is not None and claimed.openid == wechat_user.openid
        assert claimed.consented_at is not None and not claimed.awaiting_claim
    assert "王一" in wechat_user.say("我的信息")


def test_region_operators_import_only_inside_their_region(
    app: Flask,
    db: Database,
) -> None:
    lanzhou = region_client(app, db, "620100")
    page = upload(lanzhou, workbook_bytes([ROWS[0][0], ROWS[1][0]]))
    assert count(page, "accepted-count") == 1
    assert "不在您的管辖范围" in refusals(page)[3]


def test_files_that_are_not_the_template_are_refused_whole(
    province_client: FlaskClient,  # noqa: F811
) -> None:
    page = upload(province_client, b"not a spreadsheet", "x.xlsx")
    assert "无法读取文件" in page
    page = upload(province_client, workbook_bytes([ROWS[0][0]], headers=["姓名", "电话"]))
    assert "列名与模板不一致" in page
    assert "没有数据行" in upload(province_client, workbook_bytes([]))
