from __future__ import annotations

import re
from datetime import date

import pytest

from domain.errors import Ineligible, ValidationError
from domain.idcard import (
    HINT_BAD_BIRTH_DATE,
    HINT_BAD_CHECK_DIGIT,
    HINT_BAD_FORMAT,
    HINT_OLD_15_DIGITS,
    IdCard,
    check_adult,
    compute_check_digit,
    is_valid_check_digit,
    mask_id_number,
    parse_id_number,
)

TODAY = date(2025, 6, 15)
CJK = re.compile(r"[\u4e00-\u9fff]")


def make_id(address: str, birth: str, sequence: str) -> str:
    """A valid 18-character number built with the GB 11643-1999 check digit."""
    first17 = address + birth + sequence
    return first17 + compute_check_digit(first17)


def wrong_check(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014"])
def test_standard_vectors_have_valid_check_digits(number: str) -> None:
    assert is_valid_check_digit(number)


def test_standard_vector_born_1880_is_rejected_by_the_1900_rule() -> None:
    # 440524188001010014 is a valid number, but nobody born in 1880 registers today.
    with pytest.raises(ValidationError) as exc:
        parse_id_number("440524188001010014", today=TODAY)
    assert exc.value.hint == HINT_BAD_BIRTH_DATE


def test_compute_check_digit_matches_standard() -> None:
    assert compute_check_digit("11010519491231002") == "X"
    assert compute_check_digit("44052418800101001") == "4"
    with pytest.raises(ValueError):
        compute_check_digit("123")


def test_generated_numbers_cover_every_check_character() -> None:
    seen: set[str] = set()
    for seq in range(200):
        number = make_id("620102", "19900101", f"{seq:03d}")
        seen.add(number[17])
        assert is_valid_check_digit(number)
        assert parse_id_number(number, today=TODAY).number == number
    assert seen == set("0123456789X")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("11010519491231002x", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
        (" 110105 19491231 002X ", "11010519491231002X"),
        ("1101\u300005194912\t31002X", "11010519491231002X"),
        ("620102 1990 0101 1233", "620102199001011233"),
    ],
)
def test_parse_accepts_and_normalises(text: str, expected: str) -> None:
    assert parse_id_number(text, today=TODAY).number == expected


def test_parse_decodes_birth_date_and_gender() -> None:
    card = parse_id_number("11010519491231002X", today=TODAY)
    assert card == IdCard("11010519491231002X", date(1949, 12, 31), "女")
    male = parse_id_number(make_id("620102", "19900101", "011"), today=TODAY)
    assert male.gender == "男"
    assert male.birth_date == date(1990, 1, 1)


def test_unknown_address_codes_are_accepted() -> None:
    # 620171 (兰州新区) is not a division; 622421 is an old code from before 定西 became a city.
    for address in ("620171", "622421", "999999"):
        number = make_id(address, "19850615", "123")
        assert parse_id_number(number, today=TODAY).number == number


@pytest.mark.parametrize(
    "text, hint",
    [
        ("", HINT_BAD_FORMAT),
        ("1101051949123100", HINT_BAD_FORMAT),  # 16 digits
        ("11010519491231002XX", HINT_BAD_FORMAT),
        ("1101051949123100211", HINT_BAD_FORMAT),  # 19 digits
        ("X1010519491231002X", HINT_BAD_FORMAT),
        ("11010519491231002Y", HINT_BAD_FORMAT),
        ("1101051949-1231002X", HINT_BAD_FORMAT),
        ("身份证11010519491231002X", HINT_BAD_FORMAT),
        ("١١٠١٠٥١٩٤٩١٢٣١٠٠٢X", HINT_BAD_FORMAT),  # Arabic-Indic digits
        ("110105491231002", HINT_OLD_15_DIGITS),
        ("６２０１０２９００１０１１２３", HINT_OLD_15_DIGITS),
        (make_id("620102", "19900230", "123"), HINT_BAD_BIRTH_DATE),  # 30 Feb
        (make_id("620102", "19901301", "123"), HINT_BAD_BIRTH_DATE),  # month 13
        (make_id("620102", "19900100", "123"), HINT_BAD_BIRTH_DATE),  # day 0
        (make_id("620102", "19010229", "123"), HINT_BAD_BIRTH_DATE),  # 1901 is no leap year
        (make_id("620102", "18991231", "123"), HINT_BAD_BIRTH_DATE),  # before 1900
        (make_id("620102", "20250616", "123"), HINT_BAD_BIRTH_DATE),  # tomorrow
        (make_id("620102", "20990101", "123"), HINT_BAD_BIRTH_DATE),
        ("110105194912310023", HINT_BAD_CHECK_DIGIT),
        ("11010519491231002０", HINT_BAD_CHECK_DIGIT),
        (wrong_check(make_id("620102", "19900101", "123")), HINT_BAD_CHECK_DIGIT),
    ],
)
def test_parse_rejects_with_specific_hint(text: str, hint: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_id_number(text, today=TODAY)
    assert exc.value.hint == hint
    assert CJK.search(exc.value.hint)
    assert not isinstance(exc.value, Ineligible)


def test_birth_date_today_and_in_1900_are_accepted() -> None:
    born_today = make_id("620102", "20250615", "123")
    assert parse_id_number(born_today, today=TODAY).birth_date == TODAY
    assert parse_id_number(make_id("620102", "19000101", "123"), today=TODAY).birth_date == date(
        1900, 1, 1
    )
    assert parse_id_number(make_id("620102", "20000229", "123"), today=TODAY).birth_date == date(
        2000, 2, 29
    )


def test_hints_never_contain_the_number() -> None:
    number = wrong_check(make_id("620102", "19900101", "123"))
    with pytest.raises(ValidationError) as exc:
        parse_id_number(number, today=TODAY)
    assert number not in str(exc.value)
    assert number[:17] not in repr(exc.value)


def test_card_repr_is_masked() -> None:
    card = parse_id_number("11010519491231002X", today=TODAY)
    assert "11010519491231002X" not in repr(card)
    assert "1101**********002X" in repr(card)


@pytest.mark.parametrize(
    "number, expected",
    [
        ("11010519491231002x", True),
        ("11010519491231002X", True),
        ("110105194912310021", False),
        ("440524188001010014", True),
        ("44052418800101001", False),
        ("4405241880010100144", False),
        ("44052418800101001A", False),
        ("", False),
    ],
)
def test_is_valid_check_digit(number: str, expected: bool) -> None:
    assert is_valid_check_digit(number) is expected


@pytest.mark.parametrize(
    "number, expected",
    [
        ("62010219900101123X", "6201**********123X"),
        ("62010219900101123x", "6201**********123X"),
        ("440524188001010014", "4405**********0014"),
        ("12345", "*****"),
        ("", ""),
    ],
)
def test_mask_id_number(number: str, expected: str) -> None:
    assert mask_id_number(number) == expected


@pytest.mark.parametrize(
    "birth, day, age",
    [
        (date(2000, 6, 15), date(2018, 6, 14), 17),
        (date(2000, 6, 15), date(2018, 6, 15), 18),
        (date(2000, 6, 15), date(2018, 6, 16), 18),
        (date(2000, 12, 31), date(2018, 12, 30), 17),
        (date(2000, 12, 31), date(2018, 12, 31), 18),
        (date(2001, 1, 1), date(2018, 12, 31), 17),
        (date(2001, 1, 1), date(2019, 1, 1), 18),
        # 29 February: in common years the birthday is 28 February (民法典 第二百零二条).
        (date(2008, 2, 29), date(2026, 2, 27), 17),
        (date(2008, 2, 29), date(2026, 2, 28), 18),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
        (date(2004, 2, 29), date(2022, 2, 28), 18),
        (date(2004, 2, 29), date(2024, 2, 28), 19),  # leap year: the birthday is 29 February
        (date(2004, 2, 29), date(2024, 2, 29), 20),
        (date(2000, 3, 1), date(2018, 2, 28), 17),
        (date(2000, 3, 1), date(2018, 3, 1), 18),
        (date(2000, 1, 1), date(2000, 1, 1), 0),
    ],
)
def test_age_on(birth: date, day: date, age: int) -> None:
    card = IdCard(number="x" * 18, birth_date=birth, gender="男")
    assert card.age_on(day) == age


def test_check_adult_accepts_on_18th_birthday() -> None:
    card = parse_id_number(make_id("620102", "20070615", "123"), today=TODAY)
    check_adult(card, TODAY)  # 18 today
    check_adult(parse_id_number("11010519491231002X", today=TODAY), TODAY)


@pytest.mark.parametrize(
    "birth, today",
    [
        ("20070616", TODAY),  # 18 tomorrow
        ("20100101", TODAY),
        ("20080229", date(2026, 2, 27)),
        ("20250615", TODAY),
    ],
)
def test_check_adult_rejects_minors(birth: str, today: date) -> None:
    card = parse_id_number(make_id("620102", birth, "123"), today=today)
    with pytest.raises(Ineligible) as exc:
        check_adult(card, today)
    assert isinstance(exc.value, ValidationError)
    assert "18周岁" in exc.value.hint
    assert birth not in exc.value.hint
    assert card.number not in str(exc.value)


def test_check_adult_29_february() -> None:
    card = parse_id_number(make_id("620102", "20080229", "123"), today=date(2026, 3, 1))
    check_adult(card, date(2026, 2, 28))
    check_adult(card, date(2026, 3, 1))
