"""The client's address behind reverse proxies (TRUSTED_PROXIES), for login throttling and audit.

X-Forwarded-For and X-Forwarded-Proto are taken into account only as far as the configured
proxies set them (Werkzeug's ProxyFix); when the proxies are named by address, only for requests
that arrive from one of them. Anything else keeps the socket's address, so a client cannot
forge its own.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

WSGIApp = Any  # a WSGI callable (Flask's wsgi_app)


class OnlyFromProxies:
    """ProxyFix for requests whose peer is one of `networks`; others pass through untouched."""

    def __init__(self, app: WSGIApp, networks: Iterable[str], hops: int) -> None:
        self._app = app
        self._fixed = ProxyFix(app, x_for=hops, x_proto=hops)
        self._networks = tuple(ipaddress.ip_network(n) for n in networks)

    def _trusted(self, address: str | None) -> bool:
        try:
            peer = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(peer in network for network in self._networks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self._trusted(environ.get("REMOTE_ADDR")):
            return self._fixed(environ, start_response)
        return self._app(environ, start_response)


def from_trusted_proxies(app: WSGIApp, hops: int, networks: Iterable[str] = ()) -> WSGIApp:
    networks = tuple(networks)
    if networks:
        return OnlyFromProxies(app, networks, hops or 1)
    if hops:
        return ProxyFix(app, x_for=hops, x_proto=hops)
    return app
