"""The bot: one module per use case, each exporting a Router (and flows, commands)."""

from __future__ import annotations

from click import Command

from console.commands import COMMANDS as CONSOLE_COMMANDS
from handlers import activity, basics, coming_soon, membership, team, volunteer
from wechat.conversation import Flow
from wechat.router import Router
from worker.cli import worker_command

ROUTERS: list[Router] = [
    basics.router,
    volunteer.router,
    team.router,
    membership.router,
    activity.router,
    coming_soon.router,
]
FLOWS: list[Flow] = [*volunteer.FLOWS, *team.FLOWS, *membership.FLOWS]
COMMANDS: list[Command] = [*team.COMMANDS, *CONSOLE_COMMANDS, worker_command]
