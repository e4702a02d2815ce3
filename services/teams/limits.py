"""Limits of the team rules, shared by the team services."""

MAX_TEAMS_PER_VOLUNTEER = 5
MAX_ADMINS_PER_TEAM = 5
MEMBER_PAGE_SIZE = 10
