"""Typed errors for WeChat API calls, chosen by errcode so callers can react to each case."""

from __future__ import annotations

# Our own code for "no usable answer": network failure, timeout, HTTP error or a body that is not
# JSON. WeChat never sends it.
UNAVAILABLE_ERRCODE = -2

TOKEN_ERRCODES = frozenset({40001, 40014, 42001})


class WeChatAPIError(Exception):
    """WeChat answered a call with a non-zero errcode."""

    def __init__(self, errcode: int, errmsg: str, api: str) -> None:
        super().__init__(f"{api}: errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.api = api


class BusyError(WeChatAPIError):
    """-1: the system is busy; try again later."""


class TokenInvalidError(WeChatAPIError):
    """40001/40014/42001: the access token is invalid or expired."""


class RateLimitedError(WeChatAPIError):
    """45009: the daily quota of this API is used up."""


class UserUnsubscribedError(WeChatAPIError):
    """43004: the user does not follow the account."""


class UserRefusedError(WeChatAPIError):
    """43101: the user refused to receive notices (template messages)."""


class InvalidTemplateError(WeChatAPIError):
    """40037: the template_id is unknown."""


class TemplateDataError(WeChatAPIError):
    """47003: a template value breaks the rules of its key (thing, time, phrase ...)."""


class InvalidOpenIdError(WeChatAPIError):
    """40003: the openid is not valid for this account."""


class CustomerServiceWindowError(WeChatAPIError):
    """45015/45047: outside the customer-service window, or its message count is used up."""


class WeChatUnavailableError(WeChatAPIError):
    """No usable answer: network error, timeout, HTTP error or a body that is not JSON."""

    def __init__(self, errmsg: str, api: str, errcode: int = UNAVAILABLE_ERRCODE) -> None:
        super().__init__(errcode, errmsg, api)


_BY_ERRCODE: dict[int, type[WeChatAPIError]] = {
    -1: BusyError,
    40001: TokenInvalidError,
    40014: TokenInvalidError,
    42001: TokenInvalidError,
    45009: RateLimitedError,
    43004: UserUnsubscribedError,
    43101: UserRefusedError,
    40037: InvalidTemplateError,
    47003: TemplateDataError,
    40003: InvalidOpenIdError,
    45015: CustomerServiceWindowError,
    45047: CustomerServiceWindowError,
}


def api_error(errcode: int | None, errmsg: str | None, api: str) -> WeChatAPIError:
    """The most specific error for an errcode; None (no answer) gives WeChatUnavailableError."""
    if errcode is None or errcode == UNAVAILABLE_ERRCODE:
        return WeChatUnavailableError(errmsg or "WeChat API unavailable", api)
    error_class = _BY_ERRCODE.get(errcode, WeChatAPIError)
    return error_class(errcode, errmsg if errmsg is not None else "", api)
