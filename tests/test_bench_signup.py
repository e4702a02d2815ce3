"""bench/signup.py runs on today's bench harness (bench/load.py's Stack: the service as deployed,
granian) and its database checks catch what they are there to catch.

The storm starts a real server against MariaDB and Redis: skipped without them, except under
CI=true (tests/conftest.py refuses to run there without both).
"""

from __future__ import annotations

import pytest

from bench import signup
from tests.conftest import DB_SERVER, REDIS_URL


def test_a_small_storm_signs_everyone_up_within_the_places(
    capsys: pytest.CaptureFixture[str],
) -> None:
    if DB_SERVER is None or REDIS_URL is None:
        pytest.skip("the sign-up storm needs a MariaDB and a Redis server (none reachable)")
    mysql = DB_SERVER.rstrip("/").partition("?")[0]

    small = ["--volunteers", "40", "--activities", "4", "--places", "5"]
    code = signup.main([*small, "--mysql", mysql, "--redis", REDIS_URL])

    out = capsys.readouterr().out
    assert code == 0, out
    # 10 volunteers per activity for 5 places: 20 sign up, 20 wait, all in the database.
    assert "answers: " in out and "'signed up': 20" in out and "'waiting': 20" in out
    assert "40 sign-ups in" in out
    assert "at most 5 signed up per activity" in out and "all OK" in out


def test_the_checks_report_overbooking_empty_places_and_gaps() -> None:
    # 3 volunteers per activity for 2 places (ids 7 and 8): 2 sign up, 1 waits.
    good = {7: (2, [1], 2), 8: (2, [1], 2)}
    assert signup.problems_of(good, volunteers=6, activities=2) == []

    overbooked = {7: (3, [], 2), 8: (2, [1], 2)}
    assert signup.problems_of(overbooked, 6, 2) == ["activity 7: 3 signed up for 2 places"]

    places_left = {7: (1, [1, 2], 2), 8: (2, [1], 2)}
    assert signup.problems_of(places_left, 6, 2) == ["activity 7: 1 signed up, expected 2"]

    gap = {7: (2, [1], 2), 8: (1, [1, 3], 3)}
    assert signup.problems_of(gap, 6, 2) == [
        "activity 8: 1 signed up, expected 3",
        "activity 8: waiting list [1, 3]... has gaps",
    ]

    lost = {7: (2, [], 2), 8: (2, [1], 2)}
    assert signup.problems_of(lost, 6, 2) == ["activity 7: 2 sign-ups, expected 3"]
