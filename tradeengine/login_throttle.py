"""Failed logins are limited per client address and per (username, address).

Both ways to log in with a password, the API's token endpoint and the Django
admin's login page, are wrapped by `login_throttled` (see tradeengine.urls).
Two fixed windows count failed attempts, their limits in
settings.LOGIN_THROTTLE (an empty value turns one off):

- "ip":       failed logins from one address, whatever the username
              (default 20 per 15 min): one address trying many accounts;
- "username": failed logins at one username *from one address* (default 5
              per 15 min): one address guessing one account's password.

Once a window is full, further attempts it covers are answered 429 with
Retry-After, without checking the password, until the window closes; nothing
is locked for good.

Why the username counter is keyed by the address too: a counter per username
alone (or any ceiling per username across addresses) lets anyone lock the
owner out by failing on purpose, which the API contract rules out. Keyed per
(username, address), a stranger hammering a username only blocks himself,
and the owner logging in from his own address is not affected. The price is
that a guesser with many addresses gets 5 tries per address and window at
one account; the per-address window bounds what each address may try in
all, and the cost of many addresses does the rest.

Counting: the attempt is counted *before* the password is checked (one
atomic Redis call, tradeengine.throttling.take, that refuses when a window is
full) and given back afterwards unless Django reported a failed login
(the `user_login_failed` signal, which `authenticate()` sends for both
forms). So only failures count, a success or a malformed request costs
nothing, and a burst of parallel guesses cannot slip past the limit while
the first ones are still being checked. Like the other rate limits, it
fails open when Redis is unreachable.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from contextvars import ContextVar
from functools import wraps

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape

from core import metrics
from core.api.client import client_ip

from .throttling import Bucket, bucket, give_back, take

log = logging.getLogger(__name__)

View = Callable[..., HttpResponse]


class _Attempt:
    failed = False


# The login attempt the current request is making, for the signal receiver.
_current_attempt: ContextVar[_Attempt | None] = ContextVar("login_attempt", default=None)


@receiver(user_login_failed, dispatch_uid="tradeengine.login_throttle")
def _mark_failed(sender, credentials=None, request=None, **kwargs) -> None:
    attempt = _current_attempt.get()
    if attempt is not None:
        attempt.failed = True


def submitted_username(request: HttpRequest) -> str:
    """The username a login POST names (JSON for the API, a form for the
    admin), folded so that case variants share one counter; "" when none."""
    field = get_user_model().USERNAME_FIELD
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return ""
        value = data.get(field) if isinstance(data, dict) else None
    else:
        value = request.POST.get(field)
    return value.strip().casefold() if isinstance(value, str) else ""


def login_buckets(*, ip: str, username: str) -> list[Bucket]:
    """The counters one login attempt from `ip` at `username` goes into."""
    # Hashed: a username is the client's text, of any length and alphabet.
    user_at_ip = hashlib.sha256(f"{username}\0{ip}".encode()).hexdigest()[:32]
    limits = settings.LOGIN_THROTTLE
    found = [
        bucket("login_ip", ip, limits.get("ip")),
        bucket("login_username", user_at_ip, limits.get("username")),
    ]
    return [b for b in found if b is not None]


def login_throttled(view: View, *, refused: Callable[[int], HttpResponse]) -> View:
    """`view` (a login view) with failed POSTs counted; over a limit the
    request gets `refused(retry_after_seconds)` and the view is not run."""

    @wraps(view)
    def throttled(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        ip, username = client_ip(request) or "", submitted_username(request)
        buckets = login_buckets(ip=ip, username=username)
        refusal = take(buckets)
        if refusal is not None:
            metrics.count_rate_limited(refusal.scope)
            log.warning("login throttled", extra={"scope": refusal.scope, "client_ip": ip, "username": username,
                                                  "retry_after": refusal.retry_after})
            return refused(refusal.retry_after)
        attempt = _Attempt()
        token = _current_attempt.set(attempt)
        try:
            return view(request, *args, **kwargs)
        finally:
            _current_attempt.reset(token)
            if not attempt.failed:
                give_back(buckets)

    return throttled


def api_refusal(retry_after: int) -> HttpResponse:
    """The API's error body (API.md), as the DRF exception handler renders it."""
    body = {"error": {
        "code": "RATE_LIMITED",
        "message": "Too many failed logins; try again later.",
        "details": {"retry_after": retry_after},
    }}
    return JsonResponse(body, status=429, headers={"Retry-After": str(retry_after)})


def admin_refusal(retry_after: int) -> HttpResponse:
    page = (
        "<!doctype html><title>Too many failed logins</title>"
        "<h1>Too many failed logins</h1>"
        f"<p>Try again in {escape(retry_after)} seconds.</p>"
    )
    return HttpResponse(page, status=429, headers={"Retry-After": str(retry_after)})


def api_login_throttled(view: View) -> View:
    """The token endpoint, throttled; refusals in the API's error body."""
    return login_throttled(view, refused=api_refusal)


def admin_login_throttled(view: View) -> View:
    """The admin's login page, throttled; refusals as a short page."""
    return login_throttled(view, refused=admin_refusal)
