"""Who is calling: one answer for the API, the admin and the rate limits."""

from __future__ import annotations

from rest_framework.throttling import BaseThrottle


def client_ip(request) -> str | None:
    """The caller's address (a Django or a DRF request), believing
    X-Forwarded-For only as far as settings NUM_PROXIES says, as the rate
    limits do; None when unknown."""
    return BaseThrottle().get_ident(request) or None
