from __future__ import annotations

import pytest

from domain import regions
from domain.regions import (
    OUTSIDE_GANSU,
    Division,
    contains,
    counties,
    find_county,
    find_prefecture,
    get,
    label,
    prefectures,
)


def test_data_file_lives_in_the_project() -> None:
    assert regions.DATA_FILE.is_file()
    assert regions.DATA_FILE.parent.name == "data"


def test_prefectures_in_code_order() -> None:
    found = prefectures()
    assert len(found) == 14
    assert [d.code for d in found] == sorted(d.code for d in found)
    assert found[0] == Division("620100", "兰州市", "prefecture", "620000")
    assert [d.name for d in found][-2:] == ["临夏回族自治州", "甘南藏族自治州"]
    assert all(d.level == "prefecture" and d.parent_code == "620000" for d in found)


def test_county_totals() -> None:
    all_counties = [c for p in prefectures() for c in counties(p.code)]
    assert len(all_counties) == 86
    assert len({c.code for c in all_counties}) == 86
    assert all(c.level == "county" for c in all_counties)


@pytest.mark.parametrize(
    "code, count, first",
    [
        ("620100", 8, "城关区"),
        ("620200", 0, None),
        ("620300", 2, "金川区"),
        ("621200", 9, "武都区"),
        ("622900", 8, "临夏市"),
        ("623000", 8, "合作市"),
        ("620102", 0, None),  # a county has no counties
        ("999999", 0, None),
        ("OUT", 0, None),
    ],
)
def test_counties(code: str, count: int, first: str | None) -> None:
    found = counties(code)
    assert len(found) == count
    assert [d.code for d in found] == sorted(d.code for d in found)
    if first is not None:
        assert found[0].name == first


def test_get() -> None:
    assert get("620102") == Division("620102", "城关区", "county", "620100")
    assert get("620000") == Division("620000", "甘肃省", "province", None)
    assert get("620171") is None  # 兰州新区 is a development zone, not a division
    assert get("OUT") is None
    assert get("") is None


@pytest.mark.parametrize(
    "text, code",
    [
        ("兰州市", "620100"),
        ("兰州", "620100"),
        (" 兰州 ", "620100"),
        ("甘肃省兰州市", "620100"),
        ("甘肃兰州", "620100"),
        ("嘉峪关", "620200"),
        ("嘉峪关市", "620200"),
        ("临夏", "622900"),
        ("临夏州", "622900"),
        ("临夏回族自治州", "622900"),
        ("甘南", "623000"),
        ("甘南州", "623000"),
        ("甘南藏族自治州", "623000"),
        ("陇南", "621200"),
    ],
)
def test_find_prefecture(text: str, code: str) -> None:
    found = find_prefecture(text)
    assert found is not None
    assert found.code == code


@pytest.mark.parametrize("text", ["", "北京", "城关区", "兰", "甘肃", "兰州市城关区", "1"])
def test_find_prefecture_no_match(text: str) -> None:
    assert find_prefecture(text) is None


@pytest.mark.parametrize(
    "prefecture, text, code",
    [
        ("620100", "城关区", "620102"),
        ("620100", "城关", "620102"),
        ("620100", "兰州市城关区", "620102"),
        ("620100", "甘肃省兰州市城关区", "620102"),
        ("620100", "兰州城关", "620102"),
        ("620100", "榆中", "620123"),
        ("620500", "张家川", "620525"),
        ("620500", "张家川回族自治县", "620525"),
        ("620600", "天祝", "620623"),
        ("620700", "肃南", "620721"),
        ("620900", "阿克塞", "620924"),
        ("620900", "肃北", "620923"),
        ("620900", "敦煌", "620982"),
        ("621000", "环县", "621022"),
        ("621000", "环", "621022"),
        ("621100", "岷县", "621126"),
        ("622900", "东乡", "622926"),
        ("622900", "东乡族自治县", "622926"),
        ("622900", "积石山", "622927"),
        ("622900", "临夏市", "622901"),
        ("622900", "临夏县", "622921"),
        ("622900", "临夏州临夏县", "622921"),
        ("623000", "合作", "623001"),
        ("620400", "白银区", "620402"),
        ("620400", "白银", "620402"),
    ],
)
def test_find_county(prefecture: str, text: str, code: str) -> None:
    found = find_county(prefecture, text)
    assert found is not None
    assert found.code == code
    assert contains(prefecture, found.code)


@pytest.mark.parametrize(
    "prefecture, text",
    [
        ("622900", "临夏"),  # 临夏市 or 临夏县: ambiguous
        ("620100", "麦积区"),  # belongs to 天水市
        ("620200", "嘉峪关"),  # no counties
        ("620100", ""),
        ("999999", "城关区"),
        ("OUT", "城关区"),
    ],
)
def test_find_county_no_match(prefecture: str, text: str) -> None:
    assert find_county(prefecture, text) is None


@pytest.mark.parametrize(
    "code, expected",
    [
        ("620102", "甘肃省兰州市城关区"),
        ("620100", "甘肃省兰州市"),
        ("620200", "甘肃省嘉峪关市"),
        ("622927", "甘肃省临夏回族自治州积石山保安族东乡族撒拉族自治县"),
        ("620000", "甘肃省"),
        (OUTSIDE_GANSU, "省外"),
    ],
)
def test_label(code: str, expected: str) -> None:
    assert label(code) == expected


def test_label_unknown_code() -> None:
    with pytest.raises(KeyError):
        label("999999")


@pytest.mark.parametrize(
    "prefecture, county, expected",
    [
        ("620100", "620102", True),
        ("620500", "620525", True),
        ("620100", "620502", False),
        ("620100", "620100", False),
        ("620000", "620100", False),  # a prefecture is not a county
        ("620200", "620201", False),
        (OUTSIDE_GANSU, "620102", False),
    ],
)
def test_contains(prefecture: str, county: str, expected: bool) -> None:
    assert contains(prefecture, county) is expected


def test_outside_constant() -> None:
    assert OUTSIDE_GANSU == "OUT"
