"""The custom menu as data: load it, check it against WeChat's rules, match it to handlers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_TOP_BUTTONS = 3
MAX_SUB_BUTTONS = 5
MAX_TOP_NAME_BYTES = 16
MAX_SUB_NAME_BYTES = 60
MAX_KEY_BYTES = 128
MAX_URL_BYTES = 1024

# Types whose tap sends an event carrying EventKey, so they need a key.
KEY_TYPES = frozenset(
    {
        "click",
        "scancode_push",
        "scancode_waitmsg",
        "pic_sysphoto",
        "pic_photo_or_album",
        "pic_weixin",
        "location_select",
    }
)
BUTTON_TYPES = KEY_TYPES | {"view", "media_id", "article_id", "miniprogram"}

# Menu keys are written like VOLUNTEER_REGISTER: an upper-case word, an underscore, more.
MENU_KEY_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*_[A-Z0-9_]+$")


def load_menu(path: str | Path) -> dict[str, Any]:
    with Path(path).open(encoding="utf-8") as file:
        menu = json.load(file)
    if not isinstance(menu, dict):
        raise ValueError(f"{path}: a menu file holds a JSON object with a 'button' list")
    return menu


def validate_menu(menu: dict[str, Any]) -> list[str]:
    """Every way the menu breaks WeChat's rules; an empty list when it is fine."""
    buttons = menu.get("button") if isinstance(menu, dict) else None
    if not isinstance(buttons, list):
        return ["the menu needs a 'button' list"]
    problems: list[str] = []
    if not 1 <= len(buttons) <= MAX_TOP_BUTTONS:
        problems.append(f"{len(buttons)} top-level buttons: WeChat allows 1-{MAX_TOP_BUTTONS}")
    for index, button in enumerate(buttons):
        problems += _validate_top_button(f"button[{index}]", button)
    problems += _duplicate_keys(menu)
    return problems


def _validate_top_button(where: str, button: Any) -> list[str]:
    if not isinstance(button, dict):
        return [f"{where}: a button is a JSON object"]
    problems = _validate_name(where, button, MAX_TOP_NAME_BYTES)
    if "sub_button" not in button:
        return problems + _validate_action(where, button)
    subs = button["sub_button"]
    if not isinstance(subs, list) or not 1 <= len(subs) <= MAX_SUB_BUTTONS:
        count = len(subs) if isinstance(subs, list) else "no"
        problems.append(f"{where}: {count} sub_buttons: WeChat allows 1-{MAX_SUB_BUTTONS}")
        subs = subs if isinstance(subs, list) else []
    if "type" in button:
        problems.append(f"{where}: a button with sub_buttons has no type")
    for index, sub in enumerate(subs):
        problems += _validate_sub_button(f"{where}.sub_button[{index}]", sub)
    return problems


def _validate_sub_button(where: str, button: Any) -> list[str]:
    if not isinstance(button, dict):
        return [f"{where}: a button is a JSON object"]
    problems = _validate_name(where, button, MAX_SUB_NAME_BYTES)
    if "sub_button" in button:
        problems.append(f"{where}: sub_buttons cannot have sub_buttons")
    return problems + _validate_action(where, button)


def _validate_name(where: str, button: dict[str, Any], limit: int) -> list[str]:
    name = button.get("name")
    if not isinstance(name, str) or not name.strip():
        return [f"{where}: needs a name"]
    size = len(name.encode("utf-8"))
    if size > limit:
        return [f"{where}: name {name!r} is {size} bytes, at most {limit} (UTF-8)"]
    return []


def _validate_action(where: str, button: dict[str, Any]) -> list[str]:
    kind = button.get("type")
    if kind not in BUTTON_TYPES:
        return [f"{where}: type {kind!r} is not one of {', '.join(sorted(BUTTON_TYPES))}"]
    if kind in KEY_TYPES:
        return _validate_key(where, button.get("key"), kind)
    if kind == "view":
        return _validate_url(where, button.get("url"))
    if kind == "miniprogram":
        missing = [f for f in ("url", "appid", "pagepath") if not button.get(f)]
        return [f"{where}: a miniprogram button needs {', '.join(missing)}"] if missing else []
    if not button.get(kind):  # media_id and article_id carry a field of the same name
        return [f"{where}: a {kind} button needs {kind}"]
    return []


def _validate_key(where: str, key: Any, kind: str) -> list[str]:
    if not isinstance(key, str) or not key:
        return [f"{where}: a {kind} button needs a key"]
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        return [f"{where}: key is {size} bytes, at most {MAX_KEY_BYTES}"]
    return []


def _validate_url(where: str, url: Any) -> list[str]:
    if not isinstance(url, str) or not url:
        return [f"{where}: a view button needs a url"]
    problems = []
    if not url.startswith(("http://", "https://")):
        problems.append(f"{where}: url {url!r} must start with http:// or https://")
    size = len(url.encode("utf-8"))
    if size > MAX_URL_BYTES:
        problems.append(f"{where}: url is {size} bytes, at most {MAX_URL_BYTES}")
    return problems


def _duplicate_keys(menu: dict[str, Any]) -> list[str]:
    seen: set[str] = set()
    problems = []
    for key in menu_keys(menu):
        if key in seen:
            problems.append(f"key {key!r} is used by more than one button")
        seen.add(key)
    return problems


def _leaf_buttons(menu: dict[str, Any]) -> Iterator[dict[str, Any]]:
    buttons = menu.get("button") if isinstance(menu, dict) else None
    for button in buttons if isinstance(buttons, list) else []:
        if not isinstance(button, dict):
            continue
        subs = button.get("sub_button")
        if isinstance(subs, list):
            yield from (sub for sub in subs if isinstance(sub, dict))
        else:
            yield button


def menu_keys(menu: dict[str, Any]) -> list[str]:
    """Every key in the menu (click and the other event types), in menu order."""
    return [b["key"] for b in _leaf_buttons(menu) if isinstance(b.get("key"), str)]


def click_keys(menu: dict[str, Any]) -> list[str]:
    """The keys of click buttons, in menu order."""
    return [
        b["key"]
        for b in _leaf_buttons(menu)
        if b.get("type") == "click" and isinstance(b.get("key"), str)
    ]


def check_handlers(menu: dict[str, Any], handled_keys: set[str]) -> list[str]:
    """Click keys nobody handles, and handled menu-style keys (VOLUNTEER_REGISTER) not in the menu.

    `handled_keys` may hold other words too (取消, help): only names shaped like menu keys count.
    """
    problems = [
        f"menu key {key!r} has no handler" for key in click_keys(menu) if key not in handled_keys
    ]
    in_menu = set(menu_keys(menu))
    problems += [
        f"handled key {key!r} is not in the menu"
        for key in sorted(handled_keys)
        if MENU_KEY_PATTERN.match(key) and key not in in_menu
    ]
    return problems


def menu_from_selfmenu_info(info: dict[str, Any]) -> dict[str, Any]:
    """Turn a get_current_selfmenu_info answer back into the shape menu/create takes.

    That API wraps sub-buttons as {"sub_button": {"list": [...]}} and may add fields (value,
    news_info) for menus made in the web console; those buttons come back as they are.
    """
    buttons = (info.get("selfmenu_info") or {}).get("button") or []
    menu_buttons = []
    for button in buttons:
        subs = button.get("sub_button")
        if isinstance(subs, dict):
            button = {**button, "sub_button": list(subs.get("list", []))}
        menu_buttons.append(button)
    return {"button": menu_buttons}
