"""Console volunteer search by name, number, mobile number and full ID number (blind index)."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

from domain.idcard import compute_check_digit
from infra.db import Database
from tests import volunteer_steps as steps
from tests.test_console_support import post_form, province_client  # noqa: F401  (fixture)
from tests.wechat_user import WeChatUser

OTHER_FIRST17 = "62010219850612003"
OTHER_ID = OTHER_FIRST17 + compute_check_digit(OTHER_FIRST17)


def found(client: FlaskClient, q: str) -> str:
    """Search as the page does: the form is POSTed, so a number typed there is in no URL."""
    answer = post_form(client, "/console/volunteers", "/console/volunteers", {"q": q})
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    rows = page.split("<tbody>")[1].split("</tbody>")[0]
    assert steps.GOOD_ID not in rows and OTHER_ID not in rows  # never shown in full
    assert 'method="post"' in page
    return rows


def test_search_by_phone_and_full_id_number(
    make_user: Callable[..., WeChatUser],
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    steps.register(make_user())  # 张三, GOOD_ID, 13812345678
    steps.register(make_user(), name="李四", id_number=OTHER_ID, phone="13900001111")

    by_id = found(province_client, steps.GOOD_ID)
    assert "张三" in by_id and "李四" not in by_id
    assert "1101**********002X" in by_id
    lower_x = found(province_client, steps.GOOD_ID.lower())
    assert "张三" in lower_x and "李四" not in lower_x
    other = found(province_client, OTHER_ID)
    assert "李四" in other and "张三" not in other

    by_phone = found(province_client, "13900001111")
    assert "李四" in by_phone and "张三" not in by_phone
    spaced = found(province_client, "+86 139-0000-1111")
    assert "李四" in spaced and "张三" not in spaced

    unknown_first17 = "62010219900101001"
    unknown = found(province_client, unknown_first17 + compute_check_digit(unknown_first17))
    assert "没有符合条件的志愿者" in unknown
    assert "没有符合条件的志愿者" in found(province_client, "13700000000")
    by_name = found(province_client, "李")
    assert "李四" in by_name and "张三" not in by_name
    linked = province_client.get("/console/volunteers", query_string={"q": "李"})
    assert "李四" in linked.get_data(as_text=True)  # a name search still works as a link
