"""The bot: one module per use case, each exporting a Router (and flows, commands)."""

from __future__ import annotations

from click import Command

from handlers import basics, coming_soon, membership, team, volunteer
from wechat.conversation import Flow
from wechat.router import Router

ROUTERS: list[Router] = [
    basics.router,
    volunteer.router,
    team.router,
    membership.router,
    coming_soon.router,
]
FLOWS: list[Flow] = [*volunteer.FLOWS, *team.FLOWS, *membership.FLOWS]
COMMANDS: list[Command] = [*team.COMMANDS]
