"""Console operators: accounts, what each may see (scope), login with throttling, audit log."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, select, true
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from domain import regions
from domain.errors import ValidationError
from models.base import utcnow
from models.operator import ROLE_PROVINCE, ROLE_REGION, AuditEntry, Operator

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{3,40}$")
MIN_PASSWORD_LENGTH = 10
PASSWORD_METHOD = "scrypt"
# Checked against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method=PASSWORD_METHOD)

LOGIN_FAILURES_PER_ACCOUNT = 5
LOGIN_FAILURES_PER_IP = 30
LOGIN_WINDOW_MINUTES = 15


class OperatorError(ValidationError):
    """A bad username, password, role or region; `hint` is shown as-is."""


# -- scope ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The part of Gansu an operator works on: everything, a 市州, or a 县区."""

    prefecture_code: str | None = None
    county_code: str | None = None

    @classmethod
    def of(cls, role: str, region_code: str | None) -> Scope:
        if role == ROLE_PROVINCE or not region_code:
            return cls()
        division = regions.get(region_code)
        if division is None:
            raise OperatorError(f"未知的行政区划代码：{region_code}")
        if division.level == "county":
            return cls(division.parent_code, division.code)
        if division.level == "prefecture":
            return cls(division.code, None)
        return cls()

    @classmethod
    def for_region(cls, code: str | None) -> Scope:
        """The scope of a division code (province code or None: the whole province)."""
        return cls.of(ROLE_REGION, code)

    @property
    def is_province(self) -> bool:
        return self.prefecture_code is None

    @property
    def code(self) -> str | None:
        return self.county_code or self.prefecture_code

    @property
    def label(self) -> str:
        return regions.label(self.code) if self.code else "全省"

    def where(self, prefecture: Any, county: Any) -> ColumnElement[bool]:
        """SQL condition: rows whose (prefecture, county) columns lie in this scope."""
        if self.county_code:
            return and_(county == self.county_code)
        if self.prefecture_code:
            return and_(prefecture == self.prefecture_code)
        return true()

    def allows(self, prefecture_code: str | None, county_code: str | None) -> bool:
        if self.county_code:
            return county_code == self.county_code
        if self.prefecture_code:
            return prefecture_code == self.prefecture_code
        return True

    def narrow(self, code: str | None) -> Scope:
        """The part of this scope named by `code` (a 市州 or 县区); OperatorError if outside.

        A county operator who names their own prefecture keeps their county."""
        if not code:
            return self
        wanted = Scope.for_region(code)
        if self.county_code:
            if wanted.county_code not in (None, self.county_code) or (
                wanted.prefecture_code != self.prefecture_code
            ):
                raise OperatorError("只能选择本辖区内的地区。")
            return self
        if self.prefecture_code and wanted.prefecture_code != self.prefecture_code:
            raise OperatorError("只能选择本辖区内的地区。")
        return wanted

    def regions(self) -> list[regions.Division]:
        """The divisions an operator of this scope may pick, for filter menus."""
        if self.county_code:
            county = regions.get(self.county_code)
            return [county] if county else []
        if self.prefecture_code:
            prefecture = regions.get(self.prefecture_code)
            return ([prefecture] if prefecture else []) + regions.counties(self.prefecture_code)
        found: list[regions.Division] = []
        for prefecture in regions.prefectures():
            found.append(prefecture)
            found.extend(regions.counties(prefecture.code))
        return found


def scope_of(operator: Operator) -> Scope:
    return Scope.of(operator.role, operator.region_code)


# -- accounts --------------------------------------------------------------------------------


def parse_role(text: str) -> tuple[str, str | None]:
    """`province` or `region:<code>` (a 市州 or 县区 code of Gansu)."""
    value = text.strip()
    if value == ROLE_PROVINCE:
        return ROLE_PROVINCE, None
    kind, _, code = value.partition(":")
    if kind != ROLE_REGION or not code:
        raise OperatorError("角色应为 province 或 region:<行政区划代码>，例如 region:620100")
    division = regions.get(code)
    if division is None or division.level not in ("prefecture", "county"):
        raise OperatorError(f"{code} 不是甘肃省的市州或县区代码")
    return ROLE_REGION, division.code


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise OperatorError(f"密码至少{MIN_PASSWORD_LENGTH}个字符。")
    if password.isdigit() or password.isalpha():
        raise OperatorError("密码不能只有数字或只有字母。")
    return password


def normalise_username(text: str) -> str:
    """The one form of a username (NFKC + casefold): ｑｙｏｐ, QYOP and qyop are one name."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return unicodedata.normalize("NFKC", folded).strip()


def find(session: Session, username: str) -> Operator | None:
    """The account with exactly this (normalised) name. The database's collation also matches
    look-alikes such as qyöp for qyop; those are not the account's name."""
    name = normalise_username(username)
    operator = session.scalar(select(Operator).where(Operator.username == name))
    return operator if operator is not None and operator.username == name else None


def create(
    session: Session, *, username: str, password: str, role: str, region_code: str | None
) -> Operator:
    username = normalise_username(username)
    if not USERNAME_RE.match(username):
        raise OperatorError("用户名为3-40位字母、数字、下划线、点或连字符。")
    if find(session, username) is not None:
        raise OperatorError(f"用户名 {username} 已存在。")
    check_password(password)
    operator = Operator(
        username=username,
        password_hash=generate_password_hash(password, method=PASSWORD_METHOD),
        role=role,
        region_code=region_code,
        active=True,
    )
    session.add(operator)
    session.flush()
    return operator


def set_password(operator: Operator, password: str) -> None:
    operator.password_hash = generate_password_hash(
        check_password(password), method=PASSWORD_METHOD
    )
    operator.updated_at = utcnow()


def verify_password(operator: Operator | None, password: str) -> bool:
    if operator is None or not operator.active:
        check_password_hash(_DUMMY_HASH, password)
        return False
    return check_password_hash(operator.password_hash, password)


def set_openid(operator: Operator, openid: str | None) -> None:
    value = (openid or "").strip() or None
    if value is not None and not re.fullmatch(r"[A-Za-z0-9_\-]{6,64}", value):
        raise OperatorError("openid 应为6-64位字母、数字、下划线或连字符。")
    operator.openid = value
    operator.updated_at = utcnow()


# -- login -----------------------------------------------------------------------------------


class Actor(Protocol):
    """Whoever makes a change: an Operator row or the console's logged-in user."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...


class Throttle(Protocol):
    """Counts failed logins per key within a window (LoginThrottle): keys starting with `user:`
    allow LOGIN_FAILURES_PER_ACCOUNT, others LOGIN_FAILURES_PER_IP."""

    def blocked(self, *keys: str) -> bool: ...

    def failed(self, *keys: str) -> None: ...


@dataclass(frozen=True)
class LoginResult:
    operator: Operator | None
    refusal: str | None = None


def login(
    session: Session, throttle: Throttle, username: str, password: str, ip: str | None
) -> LoginResult:
    """The operator, or the reason to show on the form. Audits every outcome (the caller
    commits, refusals included).

    Failures count per (account id, address): guesses at other names, or from elsewhere, never
    block an account's correct password. Guesses at unknown names count per address only."""
    name = normalise_username(username)[:40]
    operator = find(session, name) if name else None
    address = ip or "-"
    unknown_names_key = f"ip:{address}"
    if operator is None or not operator.active:
        # Counted like an account too, so a made-up name gets blocked after as many guesses as
        # a real one (no hint which names exist), and against all unknown names from here.
        keys = (f"user:?{name}@{address}", unknown_names_key)
        verify_password(None, password)  # as slow as any other answer
        if throttle.blocked(*keys):
            return _blocked(session, name, ip)
        throttle.failed(*keys)
        return _failed(session, name, ip)
    account_key = f"user:{operator.id}@{address}"
    if throttle.blocked(account_key):
        return _blocked(session, name, ip)
    if not verify_password(operator, password):
        throttle.failed(account_key)
        if throttle.blocked(unknown_names_key):
            # The same answer an unknown name gets from this address: no hint that it exists.
            return _blocked(session, name, ip)
        return _failed(session, name, ip)
    operator.last_login_at = utcnow()
    audit(session, operator, "login", summary="登录", ip=ip)
    return LoginResult(operator)


def _blocked(session: Session, name: str, ip: str | None) -> LoginResult:
    audit(session, None, "login_blocked", summary=f"登录被限制：{name}", ip=ip, actor=name)
    return LoginResult(None, f"登录失败次数过多，请{LOGIN_WINDOW_MINUTES}分钟后再试。")


def _failed(session: Session, name: str, ip: str | None) -> LoginResult:
    audit(session, None, "login_failed", summary=f"登录失败：{name}", ip=ip, actor=name)
    return LoginResult(None, "用户名或密码错误。")


# -- audit -----------------------------------------------------------------------------------


def audit(
    session: Session,
    operator: Actor | None,
    action: str,
    *,
    summary: str,
    target: Any = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
    actor: str | None = None,
) -> AuditEntry:
    """Record a change in the caller's transaction. `target` is a model instance (its class
    name and id are kept) or None; `actor` overrides the name (CLI, failed logins)."""
    target_type = target_id = None
    if target is not None:
        if getattr(target, "id", 0) is None:
            session.flush()
        target_type = getattr(target, "__tablename__", type(target).__name__)
        target_id = str(getattr(target, "id", "") or "") or None
    entry = AuditEntry(
        operator_id=operator.id if operator is not None else None,
        actor=(actor or (operator.username if operator is not None else "system"))[:64],
        action=action,
        target_type=target_type,
        target_id=target_id,
        summary=summary[:255],
        detail=detail,
        ip=ip,
    )
    session.add(entry)
    return entry
