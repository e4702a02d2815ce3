"""The conversation document's history: each answer keeps only what it changed (its undo), so
a 14-message registration's document grows by one answer per step; 返回 restores exactly the
answers held before, also after an edit from the summary that reset other answers, and also
from documents written before the undo entries (whole snapshots); PII rotation re-seals an
ID number kept in an undo entry."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask

from domain.pii import PiiCipher, PiiError
from tests import volunteer_steps as steps
from tests.wechat_user import WeChatUser
from wechat.conversation.rekey import rekey_document


def document(app: Flask, openid: str) -> dict[str, Any]:
    services = app.extensions["services"]
    raw = services.redis.get(services.keys.conversation(openid))
    assert raw is not None
    doc = json.loads(raw)
    assert isinstance(doc, dict)
    return doc


def write(app: Flask, openid: str, doc: dict[str, Any]) -> None:
    services = app.extensions["services"]
    services.redis.set(services.keys.conversation(openid), json.dumps(doc, ensure_ascii=False))


def test_each_answer_keeps_only_its_change_and_back_restores_every_earlier_state(
    app: Flask, wechat_user: WeChatUser
) -> None:
    steps.start(wechat_user)
    states = [document(app, wechat_user.openid)["data"]]
    reply = ""
    for name, answer, expect in steps.ANSWERS:
        reply = wechat_user.say(answer)
        assert expect in reply, name
        doc = document(app, wechat_user.openid)
        states.append(doc["data"])
        entry = doc["history"][-1]
        # A first answer to a step: nothing to restore, one answer to drop; no copy of the rest.
        assert entry == {"step": name, "undo": {}, "drop": [name]}
    assert steps.GOOD_ID not in json.dumps(document(app, wechat_user.openid))

    # Edit the prefecture from the summary: the county is reset and asked again.
    summary = states[-1]
    index = next(line.split(".")[0] for line in reply.splitlines() if "所在市州" in line)
    assert "市州" in wechat_user.say(f"修改 {index}")
    assert "县区" in wechat_user.say("天水市")
    doc = document(app, wechat_user.openid)
    assert doc["data"]["prefecture_code"] != summary["prefecture_code"]
    assert "county_code" not in doc["data"]
    edit = doc["history"][-1]
    assert edit["step"] == "prefecture_code" and edit["drop"] == []
    assert edit["undo"] == {
        "prefecture_code": summary["prefecture_code"],
        "county_code": summary["county_code"],
    }

    # 返回 undoes the edit: the old prefecture and county together.
    assert "已返回上一步" in wechat_user.say("返回")
    assert document(app, wechat_user.openid)["data"] == summary
    # Then each answer in turn, back to the first question.
    for expected in reversed(states[1:-1]):
        assert "已返回上一步" in wechat_user.say("返回")
        assert document(app, wechat_user.openid)["data"] == expected
    assert "已返回上一步" in wechat_user.say("返回")
    assert document(app, wechat_user.openid)["data"] == states[0]
    assert "已经是第一个问题" in wechat_user.say("返回")


def test_documents_with_whole_snapshots_still_go_back(app: Flask, wechat_user: WeChatUser) -> None:
    """A conversation in progress across the deploy: its history entries hold whole copies
    of the answers before them ({step, data})."""
    steps.answer_until(wechat_user, stop_before="education")
    doc = document(app, wechat_user.openid)
    data = doc["data"]
    names = [entry["step"] for entry in doc["history"]]
    doc["history"] = [
        {"step": name, "data": {k: v for k, v in data.items() if k in names[:i]}}
        for i, name in enumerate(names)
    ]
    write(app, wechat_user.openid, doc)
    reply = wechat_user.say("返回")
    assert "手机号" in reply and "138****5678" in reply
    assert document(app, wechat_user.openid)["data"] == {
        k: v for k, v in data.items() if k != "phone"
    }
    assert "学历" in wechat_user.say("13900001111")  # and a new answer gets an undo entry
    assert document(app, wechat_user.openid)["history"][-1] == {
        "step": "phone",
        "undo": {},
        "drop": ["phone"],
    }
    wechat_user.say("返回")
    assert "身份证号" in wechat_user.say("返回")
    assert document(app, wechat_user.openid)["data"] == {
        k: v for k, v in data.items() if k in ("consent", "name")
    }


def test_rotation_reseals_an_id_number_kept_in_an_undo_entry() -> None:
    old, new = PiiCipher("old-key-" + "a" * 32), PiiCipher("new-key-" + "b" * 32)
    context = "conversation.volunteer_register.id_number"
    first = {"$enc": old.encrypt(steps.GOOD_ID, context=context)}
    second = {"$enc": old.encrypt("620102198001011234", context=context)}
    doc: dict[str, Any] = {
        "flow": "volunteer_register",
        "data": {"name": "张三", "id_number": second},
        "history": [
            {"step": "id_number", "undo": {}, "drop": ["id_number"]},
            {"step": "id_number", "undo": {"id_number": first}, "drop": []},
        ],
    }
    assert rekey_document(doc, old, new, refused=(PiiError,)) == 2
    undone = doc["history"][1]["undo"]["id_number"]["$enc"]
    assert new.decrypt(undone, context=context) == steps.GOOD_ID
    assert new.decrypt(doc["data"]["id_number"]["$enc"], context=context) == "620102198001011234"
