from datetime import UTC, datetime

from domain.clock import beijing_date, from_beijing, show, show_date, to_beijing


def test_utc_late_evening_is_next_day_in_beijing() -> None:
    stored = datetime(2026, 11, 30, 19, 23)  # naive UTC as stored
    assert show(stored) == "2026-12-01 03:23"
    assert show_date(stored) == "2026-12-01"
    assert beijing_date(stored).isoformat() == "2026-12-01"


def test_aware_and_naive_inputs_agree() -> None:
    naive = datetime(2026, 1, 1, 0, 0)
    aware = naive.replace(tzinfo=UTC)
    assert to_beijing(naive) == to_beijing(aware)


def test_typed_beijing_time_is_stored_as_utc() -> None:
    assert from_beijing(datetime(2026, 12, 1, 9, 0)) == datetime(2026, 12, 1, 1, 0)
    assert show(from_beijing(datetime(2026, 12, 1, 9, 0))) == "2026-12-01 09:00"


def test_missing_time_shows_the_placeholder() -> None:
    assert show(None) == ""
    assert show(None, empty="—") == "—"
