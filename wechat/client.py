"""The only place that talks to the WeChat API.

One access token is shared by every process through Redis. When it is missing, one process
fetches it (stable_token) under a Redis lock while the others wait and then read it. A token
error (40001/40014/42001) drops the failed token, forces one refresh and retries the call once.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import redis
import requests
from redis.exceptions import LockError
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from config import Settings
from config.settings import DEFAULT_API_BASE
from wechat.errors import (
    TokenInvalidError,
    WeChatAPIError,
    WeChatUnavailableError,
    api_error,
)
from wechat.keys import WeChatKeys

log = logging.getLogger(__name__)

# Told of every API call as (api path, errcode or None when WeChat was unreachable): the app's
# metrics. One per process, like the clients' shared token: set by the app, not per client.
_call_observer: Callable[[str, int | None], None] | None = None


def observe_calls(observer: Callable[[str, int | None], None] | None) -> None:
    global _call_observer
    _call_observer = observer


STABLE_TOKEN_API = "/cgi-bin/stable_token"
TOKEN_LOCK_SECONDS = 10
# Keep the cached token this much shorter than WeChat's expires_in.
TOKEN_SAFETY_SECONDS = 300
REAL_SHOW_QRCODE_BASE = "https://mp.weixin.qq.com"
# Web authorisation (OAuth2) pages live on open.weixin.qq.com, not on the API host.
REAL_OAUTH_BASE = "https://open.weixin.qq.com"
OAUTH_TOKEN_API = "/sns/oauth2/access_token"
MAX_TEMPORARY_QRCODE_SECONDS = 2592000

JSONDict = dict[str, Any]


class _WeChatHTTPClient(WeChatClient):  # type: ignore[misc]
    """wechatpy's client pointed at our base URL, with a timeout, no auto retry, and the shared
    token from WeChatAPI (wechatpy's own token fetch hard-codes the real host)."""

    def __init__(self, settings: Settings, token_source: Callable[[], str]) -> None:
        super().__init__(
            settings.wechat_app_id,
            settings.wechat_app_secret,
            timeout=settings.api_timeout_seconds,
            auto_retry=False,
        )
        self.API_BASE_URL = settings.wechat_api_base_url + "/cgi-bin/"
        self._token_source = token_source

    @property
    def access_token(self) -> str:
        return self._token_source()

    def fetch_access_token(self) -> None:
        raise NotImplementedError("access tokens are managed by WeChatAPI")


class WeChatAPI:
    """Typed calls to the WeChat API; errors come as wechat.errors.WeChatAPIError subclasses."""

    def __init__(self, settings: Settings, redis: redis.Redis, keys: WeChatKeys) -> None:
        self._settings = settings
        self._redis = redis
        self._base_url = settings.wechat_api_base_url.rstrip("/")
        self._token_key = keys.access_token(settings.wechat_app_id)
        self._lock_key = keys.access_token_lock(settings.wechat_app_id)
        self._http = _WeChatHTTPClient(settings, self.access_token)

    def close(self) -> None:
        self._http._http.close()

    # ---- access token -------------------------------------------------------------------

    def access_token(self) -> str:
        return self._cached_token() or self._refresh_token(failed=None)

    def refresh_token(self, failed: str) -> str:
        """WeChat rejected `failed` (40001/40014/42001): a new token, fetched once for all."""
        return self._refresh_token(failed=failed)

    def _cached_token(self) -> str | None:
        value = self._redis.get(self._token_key)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def _refresh_token(self, *, failed: str | None) -> str:
        """Fetch a token under the lock unless another process did while we waited.

        `failed` is the token WeChat just rejected: it is dropped only if it is still the cached
        one, and the refresh is then forced so WeChat issues a new token.
        """
        lock = self._redis.lock(
            self._lock_key, timeout=TOKEN_LOCK_SECONDS, blocking_timeout=TOKEN_LOCK_SECONDS
        )
        try:
            with lock:
                current = self._cached_token()
                if current is not None and current != failed:
                    return current
                if current is not None:
                    self._redis.delete(self._token_key)
                return self._fetch_and_store_token(force_refresh=failed is not None)
        except LockError:
            current = self._cached_token()
            if current is not None and current != failed:
                return current
            raise WeChatUnavailableError(
                "timed out waiting for the access token lock", STABLE_TOKEN_API
            ) from None

    def _fetch_and_store_token(self, *, force_refresh: bool) -> str:
        result = self._request(
            "POST",
            STABLE_TOKEN_API,
            token=None,
            body={
                "grant_type": "client_credential",
                "appid": self._settings.wechat_app_id,
                "secret": self._settings.wechat_app_secret,
                "force_refresh": force_refresh,
            },
        )
        token = result.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeChatUnavailableError(
                "stable_token answer has no access_token", STABLE_TOKEN_API
            )
        expires_in = int(result.get("expires_in", 7200))
        self._redis.set(self._token_key, token, ex=_cache_seconds(expires_in))
        return token

    # ---- messages -----------------------------------------------------------------------

    def send_text(self, openid: str, content: str) -> None:
        self._call(
            "POST",
            "/cgi-bin/message/custom/send",
            body={"touser": openid, "msgtype": "text", "text": {"content": content}},
        )

    def send_news(self, openid: str, articles: list[dict[str, str]]) -> None:
        """Articles carry title, description, url and picurl."""
        self._call(
            "POST",
            "/cgi-bin/message/custom/send",
            body={"touser": openid, "msgtype": "news", "news": {"articles": articles}},
        )

    def send_template(
        self,
        openid: str,
        template_id: str,
        data: Mapping[str, str],
        *,
        url: str | None = None,
        client_msg_id: str | None = None,
    ) -> int:
        """Send a template message and return its msgid.

        The same client_msg_id to the same user is delivered only once within 10 minutes.
        """
        body: JSONDict = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
        }
        if url is not None:
            body["url"] = url
        if client_msg_id is not None:
            body["client_msg_id"] = client_msg_id
        result = self._call("POST", "/cgi-bin/message/template/send", body=body)
        return int(result["msgid"])

    def get_templates(self) -> list[JSONDict]:
        result = self._call("GET", "/cgi-bin/template/get_all_private_template")
        return list(result.get("template_list", []))

    # ---- menu ---------------------------------------------------------------------------

    def create_menu(self, menu: Mapping[str, Any]) -> None:
        self._call("POST", "/cgi-bin/menu/create", body=dict(menu))

    def get_menu(self) -> JSONDict:
        """The live menu as get_current_selfmenu_info reports it.

        wechat.menu.menu_from_selfmenu_info turns it back into the menu/create shape.
        """
        return self._call("GET", "/cgi-bin/get_current_selfmenu_info")

    def delete_menu(self) -> None:
        self._call("GET", "/cgi-bin/menu/delete")

    # ---- users and QR codes -------------------------------------------------------------

    def user_info(self, openid: str) -> JSONDict:
        return self._call("GET", "/cgi-bin/user/info", query={"openid": openid, "lang": "zh_CN"})

    def create_qrcode(
        self, scene_str: str, *, permanent: bool = True, expire_seconds: int = 2592000
    ) -> JSONDict:
        """A scene QR code; the answer has ticket, url and show_url (the image)."""
        if not 1 <= len(scene_str) <= 64:
            raise ValueError("scene_str must be 1-64 characters")
        body: JSONDict = {"action_info": {"scene": {"scene_str": scene_str}}}
        if permanent:
            body["action_name"] = "QR_LIMIT_STR_SCENE"
        else:
            if not 60 <= expire_seconds <= MAX_TEMPORARY_QRCODE_SECONDS:
                raise ValueError("expire_seconds must be between 60 and 2592000 (30 days)")
            body["action_name"] = "QR_STR_SCENE"
            body["expire_seconds"] = expire_seconds
        result = self._call("POST", "/cgi-bin/qrcode/create", body=body)
        if not isinstance(result.get("ticket"), str) or not result["ticket"]:
            raise WeChatAPIError(
                int(result.get("errcode") or 0),
                f"answer without a ticket: {json.dumps(result, ensure_ascii=False)[:200]}",
                "/cgi-bin/qrcode/create",
            )
        result["show_url"] = self._show_qrcode_url(result["ticket"])
        return result

    def _show_qrcode_url(self, ticket: str) -> str:
        # The real showqrcode lives on mp.weixin.qq.com, not on the API host.
        base = REAL_SHOW_QRCODE_BASE if self._base_url == DEFAULT_API_BASE else self._base_url
        return f"{base}/cgi-bin/showqrcode?ticket={quote(ticket, safe='')}"

    # ---- web authorisation (snsapi_base) ---------------------------------------------------

    def oauth_authorize_url(self, redirect_uri: str, state: str) -> str:
        """Where to send a browser inside WeChat so WeChat tells us, silently, who it is."""
        base = REAL_OAUTH_BASE if self._base_url == DEFAULT_API_BASE else self._base_url
        query = urlencode(
            {
                "appid": self._settings.wechat_app_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": "snsapi_base",
                "state": state,
            }
        )
        return f"{base}/connect/oauth2/authorize?{query}#wechat_redirect"

    def oauth_openid(self, code: str) -> str:
        """The openid behind a web authorisation `code` (each code works once, 5 minutes)."""
        result = self._request(
            "GET",
            OAUTH_TOKEN_API,
            token=None,
            query={
                "appid": self._settings.wechat_app_id,
                "secret": self._settings.wechat_app_secret,
                "code": code,
                "grant_type": "authorization_code",
            },
        )
        openid = result.get("openid")
        if not isinstance(openid, str) or not openid:
            raise WeChatUnavailableError("oauth2 answer has no openid", OAUTH_TOKEN_API)
        return openid

    # ---- transport ----------------------------------------------------------------------

    def _call(
        self,
        method: str,
        api: str,
        *,
        query: Mapping[str, str] | None = None,
        body: JSONDict | None = None,
    ) -> JSONDict:
        """One API call with the shared token; on a token error, one refresh and one retry."""
        token = self.access_token()
        try:
            return self._request(method, api, token=token, query=query, body=body)
        except TokenInvalidError as error:
            log.info("wechat api %s: token rejected (errcode %s), refreshing", api, error.errcode)
            token = self._refresh_token(failed=token)
            return self._request(method, api, token=token, query=query, body=body)

    def _request(
        self,
        method: str,
        api: str,
        *,
        token: str | None,
        query: Mapping[str, str] | None = None,
        body: JSONDict | None = None,
    ) -> JSONDict:
        params: dict[str, str] = dict(query or {})
        if token is not None:
            params["access_token"] = token
        started = time.monotonic()
        errcode: int | None = None
        try:
            result = self._send(method, api, params, body)
            errcode = int(result.get("errcode", 0))
            return result
        except WeChatAPIError as error:
            errcode = error.errcode
            raise
        finally:
            report_call(api, errcode, started)

    def _send(
        self, method: str, api: str, params: dict[str, str], body: JSONDict | None
    ) -> JSONDict:
        kwargs: dict[str, Any] = {
            # params=None stops wechatpy from adding a token of its own (token calls).
            "params": params or None,
            "timeout": self._settings.api_timeout_seconds,
        }
        if body is not None:
            # WeChat shows \u escapes literally, so the body is sent as raw UTF-8.
            kwargs["data"] = json.dumps(body, ensure_ascii=False).encode("utf-8")
            kwargs["headers"] = {"Content-Type": "application/json; charset=utf-8"}
        try:
            result = self._http._request(method.lower(), self._base_url + api, **kwargs)
        except WeChatClientException as error:
            raise api_error(error.errcode, _errmsg(error), api) from error
        except requests.RequestException as error:
            raise WeChatUnavailableError(f"{type(error).__name__}: {error}", api) from error
        if not isinstance(result, dict):
            raise WeChatUnavailableError("the answer is not a JSON object", api)
        return result


def report_call(api: str, errcode: int | None, started: float) -> None:
    """Tell the metrics and the log about one API call (`started`: time.monotonic())."""
    observer = _call_observer
    if observer is not None:
        observer(api, errcode)
    if log.isEnabledFor(logging.INFO):
        log.info(
            "wechat api %s errcode=%s duration_ms=%d",
            api,
            errcode,
            (time.monotonic() - started) * 1000,
        )


def _cache_seconds(expires_in: int) -> int:
    if expires_in > 2 * TOKEN_SAFETY_SECONDS:
        return expires_in - TOKEN_SAFETY_SECONDS
    return max(expires_in // 2, 1)


def _errmsg(error: WeChatClientException) -> str:
    if error.errmsg is not None:
        return str(error.errmsg)
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    return f"HTTP {status}" if status is not None else "no answer"
