"""Settings: every rule names the bad variable; sandbox defaults; MySQL URLs get utf8mb4."""

from __future__ import annotations

import pytest

from config import Settings
from config.settings import (
    DEFAULT_API_BASE,
    INSTANCE_DIR,
    SANDBOX_API_BASE,
    SANDBOX_APP_ID,
    SANDBOX_PII_KEY,
    SANDBOX_SECRET_KEY,
    SANDBOX_TOKEN,
    ConfigError,
)

REAL = {
    "WECHAT_TOKEN": "realtoken123",
    "WECHAT_APP_ID": "wx1234567890abcdef",
    "WECHAT_APP_SECRET": "0123456789abcdef0123456789abcdef",
    "SECRET_KEY": "a-real-secret-key",
    "PII_ENCRYPTION_KEY": "x" * 48,
    "DATABASE_URL": "mysql+pymysql://kjzy:pw@db.internal/kjzy",
    "REDIS_URL": "redis://cache.internal:6379/0",
}


def load(env: dict[str, str]) -> Settings:
    return Settings.from_env(env, load_dotenv=False)


def test_real_configuration_is_accepted() -> None:
    settings = load(REAL)
    assert not settings.sandbox
    assert settings.wechat_token == "realtoken123"
    assert settings.wechat_app_id == "wx1234567890abcdef"
    assert settings.wechat_api_base_url == DEFAULT_API_BASE
    assert settings.redis_url == "redis://cache.internal:6379/0"
    assert not settings.database_is_embedded and not settings.redis_is_embedded
    assert settings.wechat_encoding_aes_key is None


def test_sandbox_defaults_without_any_configuration() -> None:
    settings = load({})
    assert settings.sandbox and settings.simulator_available
    assert settings.wechat_token == SANDBOX_TOKEN
    assert settings.wechat_app_id == SANDBOX_APP_ID
    assert settings.wechat_api_base_url == SANDBOX_API_BASE
    assert settings.database_url == f"sqlite:///{INSTANCE_DIR / 'kjzy.sqlite3'}"
    assert settings.database_is_embedded and settings.redis_is_embedded
    assert settings.secret_key == SANDBOX_SECRET_KEY
    assert settings.pii_encryption_key == SANDBOX_PII_KEY
    assert settings.reply_budget_seconds < 5
    assert settings.max_body_bytes == 256 * 1024
    assert settings.dedup_ttl_seconds == 60
    assert settings.wechat_message_mode == "safe"
    assert settings.wechat_timestamp_window_seconds == 300


def test_blank_values_count_as_unset() -> None:
    settings = load({"WECHAT_APP_ID": "  ", "WECHAT_APP_SECRET": "", "DATABASE_URL": " "})
    assert settings.sandbox and settings.database_is_embedded


def test_values_are_trimmed_and_api_base_loses_its_trailing_slash() -> None:
    settings = load(
        {**REAL, "WECHAT_TOKEN": " realtoken123 ", "WECHAT_API_BASE_URL": "http://127.0.0.1:8801/"}
    )
    assert settings.wechat_token == "realtoken123"
    assert settings.wechat_api_base_url == "http://127.0.0.1:8801"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql+pymysql://u:p@h/db", "mysql+pymysql://u:p@h/db?charset=utf8mb4"),
        ("mysql://u:p@h/db", "mysql+pymysql://u:p@h/db?charset=utf8mb4"),
        ("mysql+pymysql://u:p@h/db?ssl=true", "mysql+pymysql://u:p@h/db?ssl=true&charset=utf8mb4"),
        ("mysql+pymysql://u:p@h/db?charset=utf8mb4", "mysql+pymysql://u:p@h/db?charset=utf8mb4"),
        ("mariadb+pymysql://u:p@h/db", "mariadb+pymysql://u:p@h/db?charset=utf8mb4"),
        ("sqlite:////tmp/x.sqlite3", "sqlite:////tmp/x.sqlite3"),
    ],
)
def test_mysql_urls_get_utf8mb4(url: str, expected: str) -> None:
    assert load({**REAL, "DATABASE_URL": url}).database_url == expected


def test_numbers_and_flags_are_read() -> None:
    settings = load(
        {
            **REAL,
            "REPLY_BUDGET_SECONDS": "2.5",
            "CONVERSATION_TIMEOUT_SECONDS": "600",
            "WECHAT_API_TIMEOUT_SECONDS": "3",
            "SIMULATOR_ENABLED": "yes",
            "TRUSTED_PROXIES": "1",
            "LOG_LEVEL": "debug",
            "WECHAT_ENCODING_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "WECHAT_MESSAGE_MODE": "Compat",
            "WECHAT_TIMESTAMP_WINDOW_SECONDS": "120",
        }
    )
    assert settings.reply_budget_seconds == 2.5
    assert settings.conversation_timeout_seconds == 600
    assert settings.api_timeout_seconds == 3.0
    assert settings.simulator_enabled and settings.simulator_available
    assert settings.log_level == "DEBUG"
    assert settings.trusted_proxies == 1 and settings.trusted_proxy_networks == ()
    assert load(REAL).trusted_proxies == 0
    named = load({**REAL, "TRUSTED_PROXIES": "127.0.0.1, 172.16.0.0/12"})
    assert named.trusted_proxies == 1
    assert named.trusted_proxy_networks == ("127.0.0.1/32", "172.16.0.0/12")
    assert settings.wechat_encoding_aes_key == "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    assert settings.wechat_message_mode == "compat"
    assert settings.wechat_timestamp_window_seconds == 120


def test_redis_on_a_unix_socket_is_accepted() -> None:
    # The deployed layout: Redis on the same host, over its Unix socket (README runbook).
    url = "unix:///run/redis/redis-server.sock?db=0"
    settings = load({**REAL, "REDIS_URL": url, "QUEUE_REDIS_URL": url})
    assert settings.redis_url == url and settings.queue_url == url
    assert not settings.redis_is_cluster


def test_with_overrides_returns_a_new_object() -> None:
    settings = load(REAL)
    changed = settings.with_overrides(reply_budget_seconds=0.3)
    assert changed.reply_budget_seconds == 0.3
    assert settings.reply_budget_seconds == 4.0
    with pytest.raises(AttributeError):
        settings.sandbox = True  # type: ignore[misc]


BAD = [
    ("WECHAT_APP_SECRET", {**REAL, "WECHAT_APP_SECRET": ""}),
    ("WECHAT_APP_ID", {**REAL, "WECHAT_APP_ID": ""}),
    ("WECHAT_APP_ID", {**REAL, "WECHAT_APP_ID": "not-an-app-id"}),
    ("WECHAT_TOKEN", {**REAL, "WECHAT_TOKEN": ""}),
    ("WECHAT_TOKEN", {**REAL, "WECHAT_TOKEN": "has spaces in it"}),
    ("WECHAT_TOKEN", {**REAL, "WECHAT_TOKEN": "ab"}),
    ("WECHAT_TOKEN", {"WECHAT_TOKEN": "x" * 33}),
    ("WECHAT_ENCODING_AES_KEY", {**REAL, "WECHAT_ENCODING_AES_KEY": "tooshort"}),
    ("WECHAT_ENCODING_AES_KEY", {**REAL, "WECHAT_ENCODING_AES_KEY": "+" * 43}),
    ("WECHAT_API_BASE_URL", {**REAL, "WECHAT_API_BASE_URL": "api.weixin.qq.com"}),
    ("DATABASE_URL", {**REAL, "DATABASE_URL": "postgresql://u@h/db"}),
    ("DATABASE_URL", {**REAL, "DATABASE_URL": "mysql+pymysql://u@h/db?charset=utf8"}),
    ("REDIS_URL", {**REAL, "REDIS_URL": "localhost:6379"}),
    ("REDIS_URL", {**REAL, "REDIS_URL": "unix+cluster:///run/redis.sock"}),
    ("SECRET_KEY", {**REAL, "SECRET_KEY": ""}),
    ("SECRET_KEY", {**REAL, "SECRET_KEY": SANDBOX_SECRET_KEY}),
    ("PII_ENCRYPTION_KEY", {**REAL, "PII_ENCRYPTION_KEY": ""}),
    ("PII_ENCRYPTION_KEY", {**REAL, "PII_ENCRYPTION_KEY": "short-key"}),
    ("PII_ENCRYPTION_KEY", {**REAL, "PII_ENCRYPTION_KEY": SANDBOX_PII_KEY}),
    ("REPLY_BUDGET_SECONDS", {**REAL, "REPLY_BUDGET_SECONDS": "soon"}),
    ("REPLY_BUDGET_SECONDS", {**REAL, "REPLY_BUDGET_SECONDS": "0"}),
    ("REPLY_BUDGET_SECONDS", {**REAL, "REPLY_BUDGET_SECONDS": "5"}),
    ("CONVERSATION_TIMEOUT_SECONDS", {**REAL, "CONVERSATION_TIMEOUT_SECONDS": "1.5"}),
    ("CONVERSATION_TIMEOUT_SECONDS", {**REAL, "CONVERSATION_TIMEOUT_SECONDS": "-1"}),
    ("WECHAT_API_TIMEOUT_SECONDS", {**REAL, "WECHAT_API_TIMEOUT_SECONDS": "x"}),
    ("SIMULATOR_ENABLED", {**REAL, "SIMULATOR_ENABLED": "maybe"}),
    ("LOG_LEVEL", {**REAL, "LOG_LEVEL": "LOUD"}),
    ("WECHAT_MESSAGE_MODE", {**REAL, "WECHAT_MESSAGE_MODE": "plain"}),
    ("WECHAT_MESSAGE_MODE", {**REAL, "WECHAT_MESSAGE_MODE": "compat"}),  # without an AES key
    ("WECHAT_TIMESTAMP_WINDOW_SECONDS", {**REAL, "WECHAT_TIMESTAMP_WINDOW_SECONDS": "0"}),
    ("TRUSTED_PROXIES", {**REAL, "TRUSTED_PROXIES": "-1"}),
    ("TRUSTED_PROXIES", {**REAL, "TRUSTED_PROXIES": "nginx"}),
    ("TRUSTED_PROXIES", {**REAL, "TRUSTED_PROXIES": "99"}),
]


@pytest.mark.parametrize(("variable", "env"), BAD, ids=[f"{i}-{v}" for i, (v, _) in enumerate(BAD)])
def test_each_bad_value_names_its_variable(variable: str, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        load(env)
    assert info.value.variable == variable
    assert str(info.value).startswith(f"{variable}: ")
