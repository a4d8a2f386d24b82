"""Who is calling: one answer for the API, the admin, the rate limits and
the WebSocket."""

from __future__ import annotations

from rest_framework.settings import api_settings


def client_ip(request) -> str | None:
    """The caller's address (a Django or a DRF request); None when unknown.

    X-Forwarded-For is believed only as far as settings NUM_PROXIES says:
    the address the n-th proxy from us saw. Without NUM_PROXIES the header
    is ignored and REMOTE_ADDR is the caller, since anyone can write the
    header (an API key's IP allowlist and the per-IP limits rely on this)."""
    return _behind_proxies(request.META.get("REMOTE_ADDR"), request.headers.get("x-forwarded-for"))


def scope_client_ip(scope) -> str | None:
    """The same for an ASGI connection (a WebSocket's scope)."""
    client = scope.get("client") or (None,)
    headers = dict(scope.get("headers") or ())
    forwarded = headers.get(b"x-forwarded-for")
    return _behind_proxies(client[0], forwarded.decode("latin-1") if forwarded else None)


def _behind_proxies(remote_addr: str | None, forwarded: str | None) -> str | None:
    num_proxies = api_settings.NUM_PROXIES
    if not num_proxies or not forwarded:
        return remote_addr or None
    addresses = forwarded.split(",")
    return addresses[-min(num_proxies, len(addresses))].strip() or None
