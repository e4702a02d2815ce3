"""Bulk import of volunteers from the console's .xlsx template.

Every row is checked with the rules the chat registration uses (domain validators: name, ID
number with its check digit and age, phone, education, region names, option lists), against
the database through the ID number's keyed hash, and against earlier rows of the same file.
Nothing is written until the operator confirms the preview; the checks run again at that
moment, so importing the same file twice adds nothing the second time.

Imported volunteers have no WeChat account yet (`openid` empty) and no consent: they are
marked by `imported_at` until they register in chat with the same ID number, which asks their
consent and claims the record (services.volunteers.register).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import IO, Any

import xlsxwriter
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import regions
from domain.choices import (
    EDUCATION_LEVELS,
    HINT_UNDER_EDUCATION,
    OCCUPATIONS,
    SERVICE_TIMES,
    SKILLS,
    is_below_high_school,
    parse_choice,
    parse_education,
    parse_multi_choice,
)
from domain.contact import mask_mobile, parse_free_text, parse_mobile, parse_person_name
from domain.errors import Ineligible, ValidationError
from domain.idcard import IdCard, check_adult, mask_id_number, parse_id_number
from domain.pii import PiiCipher
from models.base import utcnow
from models.volunteer import ACTIVE, Volunteer
from services.operators import Scope
from services.volunteers import ID_CONTEXT, new_volunteer_no

MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024
PREVIEW_CONTEXT = "volunteer.import_preview"
HINT_UNDER_AGE = "未满18周岁，不能注册为科技志愿者"

# (header, key, width, note for the 填写说明 sheet)
COLUMNS: tuple[tuple[str, str, int, str], ...] = (
    ("姓名", "name", 10, "必填，2-20个汉字，少数民族姓名可用「·」分隔"),
    ("身份证号", "id_number", 22, "必填，18位第二代居民身份证号，须年满18周岁；请以文本格式填写"),
    ("手机号", "phone", 14, "必填，11位中国大陆手机号"),
    ("学历", "education", 14, "必填：" + "、".join(EDUCATION_LEVELS)),
    ("所在市州", "prefecture", 14, "必填，如：兰州市、天水；甘肃省外填「省外」"),
    ("所在县区", "county", 14, "市州下辖县区时必填，如：城关区"),
    ("工作单位", "employer", 24, "选填，不超过100字"),
    ("职业/身份", "occupation", 14, "必填：" + "、".join(OCCUPATIONS)),
    ("专业领域", "skills", 24, "必填，可多项，用顿号分隔：" + "、".join(SKILLS)),
    ("专长", "specialty", 24, "选填，不超过200字"),
    ("可服务时间", "service_times", 18, "必填，可多项，用顿号分隔：" + "、".join(SERVICE_TIMES)),
)
HEADERS = tuple(c[0] for c in COLUMNS)


class ImportFileError(ValidationError):
    """The file as a whole cannot be read (not .xlsx, wrong columns, too large)."""


@dataclass
class CheckedRow:
    """One data row of the file: its line number, what was read, and the verdict."""

    line: int
    name: str
    id_masked: str
    phone_masked: str
    region: str
    reasons: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # the volunteer's columns, when valid
    id_number: str = ""  # plaintext, only while checking; never shown or logged

    @property
    def accepted(self) -> bool:
        return not self.reasons


@dataclass
class Preview:
    rows: list[CheckedRow]

    @property
    def accepted(self) -> list[CheckedRow]:
        return [r for r in self.rows if r.accepted]

    @property
    def refused(self) -> list[CheckedRow]:
        return [r for r in self.rows if not r.accepted]


# -- the template ----------------------------------------------------------------------------


def template_bytes() -> bytes:
    """The .xlsx template: the header row (every column formatted as text) and a sheet of
    instructions with the allowed options."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    text = workbook.add_format({"num_format": "@"})
    bold = workbook.add_format({"bold": True, "bg_color": "#E8EEF7", "num_format": "@"})
    sheet = workbook.add_worksheet("志愿者")
    for col, (header, _key, width, _note) in enumerate(COLUMNS):
        sheet.set_column(col, col, width, text)
        sheet.write_string(0, col, header, bold)
    sheet.freeze_panes(1, 0)
    notes = workbook.add_worksheet("填写说明")
    notes.set_column(0, 0, 14)
    notes.set_column(1, 1, 90)
    notes.write_string(0, 0, "从第2行起每行一位志愿者；不要修改第1行的列名。", bold)
    for row, (header, _key, _width, note) in enumerate(COLUMNS, start=2):
        notes.write_string(row, 0, header)
        notes.write_string(row, 1, note)
    notes.write_string(
        len(COLUMNS) + 3,
        0,
        "导入的志愿者在首次通过公众号以同一身份证号注册时确认个人信息处理规则并认领记录。",
    )
    workbook.close()
    return buffer.getvalue()


# -- reading ---------------------------------------------------------------------------------


def text_of(value: Any) -> str:
    """A cell as text: numbers typed into a cell (phones) lose their ".0"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def read_rows(stream: IO[bytes]) -> list[tuple[int, dict[str, str]]]:
    """(line number, {key: text}) for each non-empty row after the header."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"文件过大，请不超过{MAX_BYTES // 1024 // 1024}MB。")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file that is not .xlsx
        raise ImportFileError("无法读取文件，请使用下载的模板（.xlsx 格式）。") from None
    try:
        sheet = book.worksheets[0]
        lines = sheet.iter_rows(values_only=True)
        header = tuple(text_of(v) for v in next(lines, ()))
        if header[: len(HEADERS)] != HEADERS:
            raise ImportFileError("第1行的列名与模板不一致，请使用下载的模板填写。")
        found: list[tuple[int, dict[str, str]]] = []
        for line, values in enumerate(lines, start=2):
            cells = [text_of(v) for v in values[: len(COLUMNS)]]
            if not any(cells):
                continue
            if len(found) >= MAX_ROWS:
                raise ImportFileError(f"一次最多导入{MAX_ROWS}行，请分批导入。")
            cells += [""] * (len(COLUMNS) - len(cells))
            found.append((line, {c[1]: cells[i] for i, c in enumerate(COLUMNS)}))
    finally:
        book.close()
    return found


# -- checking --------------------------------------------------------------------------------


def check_card(text: str, today: date) -> IdCard:
    card = parse_id_number(text, today=today)
    try:
        check_adult(card, today)
    except Ineligible:
        raise ValidationError(HINT_UNDER_AGE) from None
    return card


def check_education(text: str) -> str:
    if is_below_high_school(text):
        raise ValidationError(HINT_UNDER_EDUCATION)
    try:
        return parse_education(text)
    except Ineligible as exc:
        raise ValidationError(exc.hint) from None


def check_region(prefecture: str, county: str) -> tuple[str, str | None]:
    if prefecture in (regions.OUTSIDE_GANSU_LABEL, "甘肃省外"):
        return regions.OUTSIDE_GANSU, None
    found = regions.find_prefecture(prefecture) if prefecture else None
    if found is None:
        raise ValidationError(
            f"所在市州「{prefecture}」不是甘肃省的市州" if prefecture else "请填写所在市州"
        )
    if not regions.counties(found.code):
        return found.code, None
    if not county:
        raise ValidationError(f"请填写{found.name}的县区")
    division = regions.find_county(found.code, county)
    if division is None:
        raise ValidationError(f"所在县区「{county}」不在{found.name}")
    return found.code, division.code


def check_row(line: int, cells: dict[str, str], scope: Scope, today: date) -> CheckedRow:
    """Each field with the chat form's rules; every problem of the row is listed."""
    row = CheckedRow(
        line, cells["name"], "", "", " ".join(filter(None, [cells["prefecture"], cells["county"]]))
    )
    values: dict[str, Any] = {}

    def attempt(label: str, check: Any) -> None:
        try:
            check()
        except (ValidationError, Ineligible) as exc:
            row.reasons.append(f"{label}：{exc.hint}")

    def name() -> None:
        values["name"] = parse_person_name(cells["name"])

    def card() -> None:
        parsed = check_card(cells["id_number"], today)
        row.id_number = parsed.number
        values.update(gender=parsed.gender, birth_date=parsed.birth_date.isoformat())

    def phone() -> None:
        values["phone"] = parse_mobile(cells["phone"])

    def education() -> None:
        values["education"] = check_education(cells["education"])

    def region() -> None:
        values["prefecture_code"], values["county_code"] = check_region(
            cells["prefecture"], cells["county"]
        )
        if not scope.allows(values["prefecture_code"], values["county_code"]):
            raise ValidationError(f"不在您的管辖范围（{scope.label}）内")

    def optional_text(key: str, limit: int, label: str) -> Any:
        def check() -> None:
            values[key] = parse_free_text(cells[key], limit, label) if cells[key] else None

        return check

    def choice(key: str, options: Sequence[str], multiple: bool) -> Any:
        def check() -> None:
            if not cells[key]:
                raise ValidationError("必填")
            values[key] = (
                parse_multi_choice(cells[key], options)
                if multiple
                else parse_choice(cells[key], options)
            )

        return check

    attempt("姓名", name)
    attempt("身份证号", card)
    attempt("手机号", phone)
    attempt("学历", education)
    attempt("地区", region)
    attempt("工作单位", optional_text("employer", 100, "工作单位"))
    attempt("职业/身份", choice("occupation", OCCUPATIONS, False))
    attempt("专业领域", choice("skills", SKILLS, True))
    attempt("专长", optional_text("specialty", 200, "专长"))
    attempt("可服务时间", choice("service_times", SERVICE_TIMES, True))
    row.id_masked = mask_id_number(row.id_number) if row.id_number else "—"
    row.phone_masked = mask_mobile(values["phone"]) if "phone" in values else "—"
    if "prefecture_code" in values:
        row.region = regions.label(values["county_code"] or values["prefecture_code"])
    row.values = values if not row.reasons else {}
    return row


def check_rows(
    session: Session,
    lines: Iterable[tuple[int, dict[str, str]]],
    scope: Scope,
    pii: PiiCipher,
    today: date,
) -> Preview:
    """Check every row, then duplicates: within the file (by ID number) and in the database
    (the ID number's keyed hash)."""
    rows = [check_row(line, cells, scope, today) for line, cells in lines]
    hashes = {r.line: pii.blind_index(r.id_number, context=ID_CONTEXT) for r in rows if r.id_number}
    registered = registered_hashes(session, set(hashes.values()))
    first_line: dict[str, int] = {}
    for row in rows:
        digest = hashes.get(row.line)
        if digest is None:
            continue
        if digest in first_line:
            row.reasons.append(f"身份证号与第{first_line[digest]}行重复")
        else:
            first_line[digest] = row.line
        if digest in registered:
            row.reasons.append("该身份证号已注册为志愿者")
        if row.reasons:
            row.values = {}
    return Preview(rows)


def registered_hashes(session: Session, hashes: set[str]) -> set[str]:
    found: set[str] = set()
    ordered = sorted(hashes)
    for start in range(0, len(ordered), 500):
        found.update(
            h
            for h in session.scalars(
                select(Volunteer.id_number_hash).where(
                    Volunteer.id_number_hash.in_(ordered[start : start + 500])
                )
            )
            if h
        )
    return found


# -- the preview between upload and confirmation (encrypted, in Redis) -------------------------


def seal(preview: Preview, pii: PiiCipher) -> str:
    """The preview as one encrypted document (it holds ID numbers in plain text inside)."""
    payload = [asdict(row) for row in preview.rows]
    return pii.encrypt(json.dumps(payload, ensure_ascii=False), context=PREVIEW_CONTEXT)


def unseal(token: str, pii: PiiCipher) -> Preview:
    return Preview(
        [CheckedRow(**row) for row in json.loads(pii.decrypt(token, context=PREVIEW_CONTEXT))]
    )


# -- writing ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    added: list[CheckedRow]
    refused: list[CheckedRow]


def commit(
    session: Session, preview: Preview, scope: Scope, pii: PiiCipher, today: date
) -> Outcome:
    """Insert the accepted rows, after checking them again (someone may have registered
    meanwhile, or the same file may have been imported already). Flushes, no commit."""
    accepted = [r for r in preview.rows if r.accepted]
    hashes = {r.line: pii.blind_index(r.id_number, context=ID_CONTEXT) for r in accepted}
    registered = registered_hashes(session, set(hashes.values()))
    now = utcnow()
    added: list[CheckedRow] = []
    refused = list(preview.refused)
    for row in accepted:
        if hashes[row.line] in registered:
            row.reasons.append("该身份证号已注册为志愿者")
            refused.append(row)
            continue
        values = dict(row.values)
        birth = date.fromisoformat(values.pop("birth_date"))
        session.add(
            Volunteer(
                volunteer_no=new_volunteer_no(),
                openid=None,
                status=ACTIVE,
                id_number_cipher=pii.encrypt(row.id_number, context=ID_CONTEXT),
                id_number_hash=hashes[row.line],
                id_number_masked=mask_id_number(row.id_number),
                birth_date=birth,
                imported_at=now,
                **values,
            )
        )
        registered.add(hashes[row.line])
        added.append(row)
    session.flush()
    refused.sort(key=lambda r: r.line)
    return Outcome(added, refused)
