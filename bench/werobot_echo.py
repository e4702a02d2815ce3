"""WeRoBot's bare echo, the yardstick of bench/webhook.py (runs in bench/.venv-werobot only).

gunicorn -w 2 -b 127.0.0.1:PORT werobot_echo:app     # cwd bench/, BENCH_* set
"""

import os

from werobot import WeRoBot

robot = WeRoBot(
    token=os.environ["BENCH_TOKEN"],
    encoding_aes_key=os.environ["BENCH_AES_KEY"],
    app_id=os.environ["BENCH_APP_ID"],
)
# Bare: no session store (by default WeRoBot keeps one in SQLite, a write per message).
robot.config["SESSION_STORAGE"] = False


@robot.text
def echo(message):  # type: ignore[no-untyped-def]
    return message.content


app = robot.wsgi
