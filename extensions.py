"""The app's parts, built in one visible step (`register_extensions`, called by app.py).

`Services` is what the chat handlers, the console, the CLI and the notice worker use: settings,
the database, Redis and its key names, the WeChat API client and the PII cipher. It is stored as
`app.extensions["services"]`; the bot, the console and the worker receive it from there.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import Flask

from config import Settings
from domain.pii import PiiCipher
from infra.db import Database
from infra.redis import Keys, connect
from wechat.client import WeChatAPI


@dataclass
class Services:
    settings: Settings
    db: Database
    redis: redis.Redis
    keys: Keys
    api: WeChatAPI
    pii: PiiCipher

    def close(self) -> None:
        self.db.dispose()
        self.api.close()
        self.redis.close()


def build_services(settings: Settings) -> Services:
    redis_client = connect(settings)
    keys = Keys(settings.redis_prefix)
    return Services(
        settings=settings,
        db=Database(settings),
        redis=redis_client,
        keys=keys,
        api=WeChatAPI(settings, redis_client, keys),
        pii=PiiCipher(settings.pii_encryption_key),
    )


def register_extensions(app: Flask, settings: Settings) -> Services:
    services = build_services(settings)
    app.extensions["settings"] = settings
    app.extensions["services"] = services
    return services


def services_of(app: Flask) -> Services:
    services: Services = app.extensions["services"]
    return services


def close_extensions(app: Flask) -> None:
    """Stop the bot's threads and close the connections (tests, and anyone who builds apps)."""
    bot = app.extensions.get("bot")
    if bot is not None:
        bot.close()
    metrics = app.extensions.get("metrics")
    if metrics is not None:
        metrics.close()  # its last counts, while Redis is still connected
    notice_queue = app.extensions.get("notice_queue")
    if notice_queue is not None:
        notice_queue.close()  # its own Redis client, on QUEUE_REDIS_URL
    services_of(app).close()
