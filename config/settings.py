"""One immutable settings object, built from the environment (and `.env`) and validated at start."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from domain.recognition import Thresholds

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"

DEFAULT_API_BASE = "https://api.weixin.qq.com"
SANDBOX_API_BASE = "http://127.0.0.1:8801"
SANDBOX_TOKEN = "sandboxtoken"
SANDBOX_APP_ID = "wx00000000sandbox"
SANDBOX_APP_SECRET = "sandbox-app-secret"
# Only ever used in sandbox mode, never with real credentials (validated below).
SANDBOX_SECRET_KEY = "sandbox-secret-key-not-for-production"
SANDBOX_PII_KEY = "sandbox-pii-key-not-for-production-0123456789abcdef"
# Debian package fonts-noto-cjk (in .ci/apt-packages); a .ttc collection, the SC face is chosen.
DEFAULT_CERTIFICATE_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
# The activity templates the fake WeChat API is seeded with (sandbox/fake_wechat.py).
SANDBOX_ACTIVITY_SIGNUP_TEMPLATE = "kjzyActivitySignup0000000000000000000000001"
SANDBOX_ACTIVITY_REMINDER_TEMPLATE = "kjzyActivityReminder00000000000000000000002"
SANDBOX_ACTIVITY_CHANGE_TEMPLATE = "kjzyActivityChange000000000000000000000003"
SANDBOX_NEED_PROGRESS_TEMPLATE = "kjzyNeedProgress00000000000000000000000004"

CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9]{3,32}$")
_AES_KEY_RE = re.compile(r"^[A-Za-z0-9]{43}$")
_APP_ID_RE = re.compile(r"^wx[0-9a-zA-Z]{14,18}$")
MESSAGE_MODES = ("safe", "compat")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    wechat_token: str
    wechat_app_id: str
    wechat_app_secret: str
    wechat_encoding_aes_key: str | None
    wechat_api_base_url: str
    database_url: str
    redis_url: str | None
    secret_key: str
    pii_encryption_key: str
    sandbox: bool
    account_name: str = "甘肃科技志愿服务"
    redis_prefix: str = "kjzy:"
    conversation_timeout_seconds: int = 1800
    reply_budget_seconds: float = 4.0
    dedup_ttl_seconds: int = 60
    user_lock_seconds: int = 30
    max_body_bytes: int = 256 * 1024
    # With an EncodingAESKey: "safe" accepts only encrypted messages; "compat" also WeChat's
    # compatible-mode body (plaintext fields beside <Encrypt>, which are ignored).
    wechat_message_mode: str = "safe"
    # A request whose timestamp is further than this from our clock is refused, and a
    # (timestamp, nonce) pair is remembered for as long as it could be accepted.
    wechat_timestamp_window_seconds: int = 300
    api_timeout_seconds: float = 5.0
    simulator_enabled: bool = False
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted: a number of
    # hops (nginx: 1), or the proxies' own addresses/networks (then one hop, and only for
    # requests that come from them). 0 and none: those headers are ignored (a client could forge
    # them).
    trusted_proxies: int = 0
    trusted_proxy_networks: tuple[str, ...] = ()
    log_level: str = "INFO"
    # Template-message notices (worker/): the send rate shared by every worker, in-flight sends
    # per worker, rows claimed at a time, how long a claim lasts before another worker may take
    # the rows over, the retry backoff for -1, and how often a worker looks for notices paused
    # for the day's quota (45009) whose time to resume has come.
    notice_sends_per_second: int = 20
    notice_send_threads: int = 8
    notice_batch_size: int = 100
    notice_lease_seconds: int = 120
    notice_retry_seconds: float = 5.0
    notice_max_attempts: int = 5
    # Prometheus text at /metrics: off unless enabled; with a token, only `Authorization:
    # Bearer <token>` may read it, without one only loopback connections not made through a proxy.
    metrics_enabled: bool = False
    metrics_token: str | None = None
    # RQ (notice jobs) needs a plain Redis: QUEUE_REDIS_URL, required when REDIS_URL is a cluster.
    queue_redis_url: str | None = None
    # A MariaDB read replica for console reports, exports and dashboards (optional).
    database_replica_url: str | None = None
    # Service certificates and links in chat: the address people open (/verify/<code>, PDFs),
    # the issuer printed on certificates, and a Chinese font from Debian's fonts-noto-cjk.
    public_base_url: str = "http://127.0.0.1:8000"
    certificate_issuer: str = "甘肃省科技志愿服务总队"
    certificate_font: str = DEFAULT_CERTIFICATE_FONT
    # Activities: the template messages for a sign-up (a promotion from the waiting list), the day-before
    # reminder and a change or cancellation (None: only customer-service messages are sent).
    activity_signup_template_id: str | None = None
    activity_reminder_template_id: str | None = None
    activity_change_template_id: str | None = None
    # Needs: the template (需求进度通知: thing1 需求方, character_string2 需求编号, phrase3 进度,
    # thing4 说明) for the poster (completion, feedback) and the operators (14 days unclaimed).
    need_progress_template_id: str | None = None
    # Recognition candidates' criteria (RECOGNITION_* variables; domain.recognition).
    recognition: Thresholds = field(default_factory=Thresholds)
    notice_resume_check_seconds: int = 60
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def database_is_embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def redis_is_embedded(self) -> bool:
        return self.redis_url is None

    @property
    def redis_is_cluster(self) -> bool:
        return bool(self.redis_url and self.redis_url.startswith(CLUSTER_SCHEMES))

    @property
    def queue_url(self) -> str | None:
        """Where RQ keeps notice jobs: QUEUE_REDIS_URL, else REDIS_URL (None: embedded)."""
        return self.queue_redis_url or self.redis_url

    @property
    def simulator_available(self) -> bool:
        return self.sandbox or self.simulator_enabled

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, load_dotenv: bool = True
    ) -> Settings:
        if environ is None:
            if load_dotenv:
                _load_dotenv()
            environ = os.environ
        env = {k: v.strip() for k, v in environ.items() if v is not None and v.strip() != ""}

        app_id = env.get("WECHAT_APP_ID")
        app_secret = env.get("WECHAT_APP_SECRET")
        if bool(app_id) != bool(app_secret):
            missing = "WECHAT_APP_SECRET" if app_id else "WECHAT_APP_ID"
            raise ConfigError(missing, "WECHAT_APP_ID and WECHAT_APP_SECRET must be set together")
        sandbox = not app_id

        token = env.get("WECHAT_TOKEN") or (SANDBOX_TOKEN if sandbox else "")
        if not token:
            raise ConfigError("WECHAT_TOKEN", "required when WECHAT_APP_ID is set")
        if not _TOKEN_RE.match(token):
            raise ConfigError("WECHAT_TOKEN", "must be 3-32 letters or digits")
        if app_id and not _APP_ID_RE.match(app_id):
            raise ConfigError("WECHAT_APP_ID", "does not look like an AppID (wx + 16 characters)")

        aes_key = env.get("WECHAT_ENCODING_AES_KEY")
        if aes_key and not _AES_KEY_RE.match(aes_key):
            raise ConfigError("WECHAT_ENCODING_AES_KEY", "must be exactly 43 letters or digits")

        message_mode = env.get("WECHAT_MESSAGE_MODE", "safe").lower()
        if message_mode not in MESSAGE_MODES:
            raise ConfigError("WECHAT_MESSAGE_MODE", "must be safe or compat")
        if message_mode == "compat" and not aes_key:
            raise ConfigError("WECHAT_MESSAGE_MODE", "compat needs WECHAT_ENCODING_AES_KEY")

        api_base = env.get("WECHAT_API_BASE_URL") or (
            SANDBOX_API_BASE if sandbox else DEFAULT_API_BASE
        )
        if not re.match(r"^https?://[^\s/]+", api_base):
            raise ConfigError("WECHAT_API_BASE_URL", "must be an http(s) URL")

        database_url = env.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'kjzy.sqlite3'}"
        if not re.match(r"^(sqlite|mysql\+pymysql|mysql|mariadb\+pymysql)://", database_url):
            raise ConfigError(
                "DATABASE_URL", "use sqlite:///path or mysql+pymysql://user:pw@host/db"
            )
        database_url = _normalise_mysql_url(database_url)
        replica_url = env.get("DATABASE_REPLICA_URL")
        if replica_url is not None:
            if not re.match(r"^(mysql\+pymysql|mysql|mariadb\+pymysql)://", replica_url):
                raise ConfigError("DATABASE_REPLICA_URL", "use mysql+pymysql://user:pw@host/db")
            if database_url.startswith("sqlite"):
                raise ConfigError("DATABASE_REPLICA_URL", "needs DATABASE_URL on MariaDB/MySQL")
            replica_url = _normalise_mysql_url(replica_url)

        redis_url = env.get("REDIS_URL")
        if redis_url and not re.match(r"^(rediss?(\+cluster)?|unix)://", redis_url):
            raise ConfigError(
                "REDIS_URL", "must start with redis://, rediss:// or redis+cluster:// (a cluster)"
            )
        queue_redis_url = env.get("QUEUE_REDIS_URL")
        if queue_redis_url and not re.match(r"^(rediss?|unix)://", queue_redis_url):
            raise ConfigError("QUEUE_REDIS_URL", "must start with redis:// or rediss://")
        if redis_url and redis_url.startswith(CLUSTER_SCHEMES) and not queue_redis_url:
            raise ConfigError(
                "QUEUE_REDIS_URL",
                "required when REDIS_URL is a cluster (RQ runs on a plain Redis server)",
            )
        redis_prefix = env.get("REDIS_PREFIX", "kjzy:")
        if "{" in redis_prefix or "}" in redis_prefix:
            raise ConfigError("REDIS_PREFIX", "must not contain { or } (cluster hash tags)")

        secret_key = env.get("SECRET_KEY") or (SANDBOX_SECRET_KEY if sandbox else "")
        if not secret_key:
            raise ConfigError("SECRET_KEY", "required with real WeChat credentials")
        pii_key = env.get("PII_ENCRYPTION_KEY") or (SANDBOX_PII_KEY if sandbox else "")
        if not pii_key:
            raise ConfigError("PII_ENCRYPTION_KEY", "required with real WeChat credentials")
        if len(pii_key) < 32:
            raise ConfigError("PII_ENCRYPTION_KEY", "must be at least 32 characters of random text")
        if not sandbox and secret_key == SANDBOX_SECRET_KEY:
            raise ConfigError("SECRET_KEY", "the sandbox key must not be used in production")
        if not sandbox and pii_key == SANDBOX_PII_KEY:
            raise ConfigError(
                "PII_ENCRYPTION_KEY", "the sandbox key must not be used in production"
            )

        reply_budget = _float(env, "REPLY_BUDGET_SECONDS", 4.0)
        if reply_budget >= 5:
            # WeChat drops the connection after 5 s and retries; the budget must end before.
            raise ConfigError("REPLY_BUDGET_SECONDS", "must be below 5 (WeChat waits 5 s)")
        log_level = env.get("LOG_LEVEL", "INFO").upper()
        if log_level not in _LOG_LEVELS:
            raise ConfigError("LOG_LEVEL", f"must be one of {', '.join(_LOG_LEVELS)}")

        notice = _notice_settings(env)
        metrics_token = env.get("METRICS_TOKEN")
        if metrics_token is not None and len(metrics_token) < 16:
            raise ConfigError("METRICS_TOKEN", "must be at least 16 characters")
        public = _public_settings(env)
        activity = _activity_settings(env, sandbox)

        return cls(
            wechat_token=token,
            wechat_app_id=app_id or SANDBOX_APP_ID,
            wechat_app_secret=app_secret or SANDBOX_APP_SECRET,
            wechat_encoding_aes_key=aes_key,
            wechat_message_mode=message_mode,
            wechat_timestamp_window_seconds=_int(env, "WECHAT_TIMESTAMP_WINDOW_SECONDS", 300),
            wechat_api_base_url=api_base.rstrip("/"),
            database_url=database_url,
            redis_url=redis_url,
            secret_key=secret_key,
            pii_encryption_key=pii_key,
            sandbox=sandbox,
            account_name=env.get("ACCOUNT_NAME", "甘肃科技志愿服务"),
            redis_prefix=redis_prefix,
            queue_redis_url=queue_redis_url,
            database_replica_url=replica_url,
            conversation_timeout_seconds=_int(env, "CONVERSATION_TIMEOUT_SECONDS", 1800),
            reply_budget_seconds=reply_budget,
            api_timeout_seconds=_float(env, "WECHAT_API_TIMEOUT_SECONDS", 5.0),
            simulator_enabled=_bool(env, "SIMULATOR_ENABLED", False),
            **_proxies(env),
            log_level=log_level,
            metrics_enabled=_bool(env, "METRICS_ENABLED", False),
            metrics_token=metrics_token,
            **notice,
            **public,
            **activity,
            recognition=_recognition_settings(env),
        )


# WeChat blocks a repeated client_msg_id for 10 minutes only: a claim must expire well before,
# so a row taken over from a dead worker is still deduplicated by WeChat.
MAX_NOTICE_LEASE_SECONDS = 480


def _notice_settings(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "notice_sends_per_second": _int(env, "NOTICE_SENDS_PER_SECOND", 20),
        "notice_send_threads": _int(env, "NOTICE_SEND_THREADS", 8),
        "notice_batch_size": _int(env, "NOTICE_BATCH_SIZE", 100),
        "notice_lease_seconds": _int(env, "NOTICE_LEASE_SECONDS", 120),
        "notice_retry_seconds": _float(env, "NOTICE_RETRY_SECONDS", 5.0),
        "notice_max_attempts": _int(env, "NOTICE_MAX_ATTEMPTS", 5),
        "notice_resume_check_seconds": _int(env, "NOTICE_RESUME_CHECK_SECONDS", 60),
    }
    if values["notice_send_threads"] > 256:
        raise ConfigError("NOTICE_SEND_THREADS", "at most 256")
    if values["notice_batch_size"] > 1000:
        raise ConfigError("NOTICE_BATCH_SIZE", "at most 1000")
    if values["notice_lease_seconds"] > MAX_NOTICE_LEASE_SECONDS:
        raise ConfigError(
            "NOTICE_LEASE_SECONDS",
            f"at most {MAX_NOTICE_LEASE_SECONDS} (WeChat deduplicates client_msg_id for 10 minutes)",
        )
    return values


def _recognition_settings(env: Mapping[str, str]) -> Thresholds:
    defaults = Thresholds()
    return Thresholds(
        volunteer_min_activities=_int(
            env, "RECOGNITION_VOLUNTEER_MIN_ACTIVITIES", defaults.volunteer_min_activities
        ),
        volunteer_min_hours=_float(
            env, "RECOGNITION_VOLUNTEER_MIN_HOURS", defaults.volunteer_min_hours
        ),
        team_min_volunteers=_int(
            env, "RECOGNITION_TEAM_MIN_VOLUNTEERS", defaults.team_min_volunteers
        ),
        team_min_activities=_int(
            env, "RECOGNITION_TEAM_MIN_ACTIVITIES", defaults.team_min_activities
        ),
        team_min_average_hours=_float(
            env, "RECOGNITION_TEAM_MIN_AVERAGE_HOURS", defaults.team_min_average_hours
        ),
        team_min_hours=_float(env, "RECOGNITION_TEAM_MIN_HOURS", defaults.team_min_hours),
        project_min_activities=_int(
            env, "RECOGNITION_PROJECT_MIN_ACTIVITIES", defaults.project_min_activities
        ),
        point_min_activities=_int(
            env, "RECOGNITION_POINT_MIN_ACTIVITIES", defaults.point_min_activities
        ),
        point_min_feedback=_int(env, "RECOGNITION_POINT_MIN_FEEDBACK", defaults.point_min_feedback),
        point_min_satisfaction=_float(
            env, "RECOGNITION_POINT_MIN_SATISFACTION", defaults.point_min_satisfaction
        ),
    )


def _public_settings(env: Mapping[str, str]) -> dict[str, Any]:
    base_url = env.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    if not re.match(r"^https?://[^\s/]+(/\S*)?$", base_url):
        raise ConfigError("PUBLIC_BASE_URL", "must be an http(s) address")
    return {
        "public_base_url": base_url,
        "certificate_issuer": env.get("CERTIFICATE_ISSUER", "甘肃省科技志愿服务总队"),
        "certificate_font": env.get("CERTIFICATE_FONT", DEFAULT_CERTIFICATE_FONT),
    }


MAX_TRUSTED_PROXIES = 5


def _proxies(env: Mapping[str, str]) -> dict[str, Any]:
    """TRUSTED_PROXIES: a number of hops (0-5), or the proxies' addresses or networks separated
    by commas or spaces (127.0.0.1, 172.16.0.0/12): one hop, trusted only from there."""
    raw = env.get("TRUSTED_PROXIES", "0")
    if raw.isdigit():
        if int(raw) > MAX_TRUSTED_PROXIES:
            raise ConfigError(
                "TRUSTED_PROXIES", f"at most {MAX_TRUSTED_PROXIES} proxies, got {raw}"
            )
        return {"trusted_proxies": int(raw), "trusted_proxy_networks": ()}
    networks = []
    for part in re.split(r"[\s,]+", raw):
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ConfigError(
                "TRUSTED_PROXIES",
                "a number of proxies (0-5) or their addresses/networks (127.0.0.1, 10.0.0.0/8), "
                f"got {part!r}",
            ) from None
    return {"trusted_proxies": 1, "trusted_proxy_networks": tuple(networks)}


def _activity_settings(env: Mapping[str, str], sandbox: bool) -> dict[str, Any]:
    return {
        "activity_signup_template_id": env.get("ACTIVITY_SIGNUP_TEMPLATE_ID")
        or (SANDBOX_ACTIVITY_SIGNUP_TEMPLATE if sandbox else None),
        "activity_reminder_template_id": env.get("ACTIVITY_REMINDER_TEMPLATE_ID")
        or (SANDBOX_ACTIVITY_REMINDER_TEMPLATE if sandbox else None),
        "activity_change_template_id": env.get("ACTIVITY_CHANGE_TEMPLATE_ID")
        or (SANDBOX_ACTIVITY_CHANGE_TEMPLATE if sandbox else None),
        "need_progress_template_id": env.get("NEED_PROGRESS_TEMPLATE_ID")
        or (SANDBOX_NEED_PROGRESS_TEMPLATE if sandbox else None),
    }


def _load_dotenv() -> None:
    try:
        from dotenv import load_dotenv
    except ImportError:  # pragma: no cover - python-dotenv is a dependency
        return
    load_dotenv(PROJECT_ROOT / ".env", override=False)


def _normalise_mysql_url(url: str) -> str:
    if url.startswith("mysql://"):
        url = "mysql+pymysql://" + url[len("mysql://") :]
    if not url.startswith(("mysql", "mariadb")):
        return url
    charset = parse_qs(urlsplit(url).query).get("charset")
    if charset is None:
        return url + ("&" if "?" in url else "?") + "charset=utf8mb4"
    if charset != ["utf8mb4"]:
        # utf8 (utf8mb3) cannot store every Chinese character or emoji a user may send.
        raise ConfigError("DATABASE_URL", "charset must be utf8mb4")
    return url


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(name, "must be positive")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, f"must be a number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(name, "must be positive")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(name, f"must be true or false, got {raw!r}")
