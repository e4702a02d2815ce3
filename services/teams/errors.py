"""Team errors: each carries the Chinese `hint` to show."""

from __future__ import annotations

from domain.errors import ValidationError
from models.team import (
    STATUS_PENDING,
    Team,
)
from services.teams.limits import MAX_TEAMS_PER_VOLUNTEER

# -- errors -------------------------------------------------------------------------------


class TeamError(ValidationError):
    """A team operation refused, with the hint to show."""


class TeamNotFound(TeamError):
    def __init__(self, hint: str = "没有找到该队伍。") -> None:
        super().__init__(hint)


class NameTaken(TeamError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"「{name}」已被注册（或正在审核），队名不能重复。"
            "如是本单位已注册的队伍，请联系该队管理员；否则请换一个名称。"
        )
        self.name = name


class ParentNotFound(TeamError):
    pass


class InvalidDecision(TeamError):
    pass


class InviteCodeNotFound(TeamError):
    def __init__(self, code: str) -> None:
        super().__init__(
            f"邀请码「{code}」不存在，请核对后重新输入。邀请码为6位字母和数字，可向队伍管理员索取。"
        )


class TeamNotOpen(TeamError):
    def __init__(self, team: Team) -> None:
        why = "尚未通过审核" if team.status == STATUS_PENDING else "目前不接受加入申请"
        super().__init__(f"「{team.name}」{why}，暂时不能加入。")


class AlreadyMember(TeamError):
    def __init__(self, team: Team) -> None:
        super().__init__(f"您已经是「{team.name}」的成员，无需重复加入。")


class AlreadyRequested(TeamError):
    def __init__(self, team: Team) -> None:
        super().__init__(f"您已申请加入「{team.name}」，请耐心等待队伍管理员审核。")


class TooManyTeams(TeamError):
    def __init__(self) -> None:
        super().__init__(
            f"每位志愿者最多加入{MAX_TEAMS_PER_VOLUNTEER}支队伍（含待审核的申请），您已达到上限。"
            "如需加入新队伍，请先回复「退出队伍」退出其中一支。"
        )


class NotMember(TeamError):
    pass


class AdminError(TeamError):
    pass


class CaptainError(TeamError):
    """A captain's confirmation that cannot be taken (unknown code, another person's name)."""
