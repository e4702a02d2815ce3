"""The bot: one module per use case, each exporting a Router (and flows, CLI commands).

app.py builds the bot from ROUTERS, FLOWS and ANSWERS (how the conversation engine reads
answers: our choice rules, our validation errors, and which database errors mean "try again").
"""

from __future__ import annotations

from sqlalchemy.exc import InterfaceError, OperationalError

from domain.choices import parse_choice, parse_multi_choice
from domain.errors import Ineligible, ValidationError
from domain.numerals import small_number
from handlers import (
    activity,
    activity_publish,
    activity_signup,
    admin_console_link,
    basics,
    coming_soon,
    membership,
    needs_claim,
    needs_consent,
    needs_feedback,
    needs_hall,
    needs_post,
    paging,
    service_certificate,
    service_checkin,
    service_correction,
    service_hours,
    service_organiser,
    team_admin,
    team_captain,
    team_register,
    team_rename,
    team_review,
    team_withdraw,
    volunteer_deregister,
    volunteer_edit,
    volunteer_profile,
    volunteer_register,
)
from wechat.conversation import AnswerPolicy, Flow
from wechat.router import Router

ROUTERS: list[Router] = [
    basics.router,
    volunteer_register.router,
    volunteer_profile.router,
    volunteer_edit.router,
    volunteer_deregister.router,
    team_register.router,
    team_admin.router,
    team_captain.router,
    admin_console_link.router,
    team_rename.router,
    team_review.router,
    team_withdraw.router,
    membership.router,
    activity.router,
    activity_signup.router,
    activity_publish.router,
    needs_post.router,
    needs_hall.router,
    needs_claim.router,
    needs_feedback.router,
    needs_consent.router,
    paging.router,
    service_hours.router,
    service_certificate.router,
    service_checkin.router,
    service_correction.router,
    service_organiser.router,
    coming_soon.router,
]
FLOWS: list[Flow] = [
    volunteer_register.REGISTER,
    volunteer_edit.EDIT,
    volunteer_deregister.DEREGISTER,
    *team_register.FLOWS,
    *team_rename.FLOWS,
    *membership.FLOWS,
    *activity_publish.FLOWS,
    *needs_post.FLOWS,
    *needs_claim.FLOWS,
    *needs_feedback.FLOWS,
    *service_certificate.FLOWS,
    *service_correction.FLOWS,
]
ANSWERS = AnswerPolicy(
    choose_one=parse_choice,
    choose_many=parse_multi_choice,
    invalid=(ValidationError,),
    ineligible=(Ineligible,),
    retry_later=(OperationalError, InterfaceError),
    read_number=small_number,
)
