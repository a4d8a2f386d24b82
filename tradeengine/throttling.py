"""Rate limits per user and per IP, counted atomically in Redis.

One DRF throttle checks every bucket that applies to a request in a single
Redis round trip (a Lua script). The buckets, their limits in
settings.RATE_LIMITS (e.g. {"user": "1200/min"}; an empty value turns a
bucket off):

- "ip":         every API request, per client address (a request counts its
                weight: 1, or what the view says, as /api/v3 views do);
- "user":       every authenticated request, per user;
- "orders":     order placements, per user (a short window: bursts);
- "orders_day": order placements, per user (a day: sustained volume).

Which requests place orders, and how many each places, the view says
(its `orders_placed(request)` for POST): POST /api/v1/orders counts one;
the batch endpoint counts each of its cancels and orders.

Windows are fixed: they open with the first request counted and close after
their length. A request that would go over any of its limits is refused and
counted in none of them, so a client hammering one limit does not use up
another (its daily orders, say). When Redis is unreachable requests are let
through (and logged): an outage of the limiter must not stop trading.

take() and give_back() are the counter itself, also used for failed logins
(tradeengine.login_throttle).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from rest_framework.throttling import BaseThrottle

from core import metrics
from core.api.client import client_ip
from core.rates import parse_rate
from core.redis import get_redis
from riskadmin.selectors import order_rate_overrides

log = logging.getLogger(__name__)

# KEYS: bucket keys; ARGV: limit, window (ms), units for each key in turn.
# Checks every bucket first and counts only when all have room. Returns
# {0, 0} when counted, else {ms until the fullest bucket has room, its
# 1-based index}; then each bucket's count (after counting, if counted).
TAKE_SCRIPT = """
local wait, worst = 0, 0
for i, key in ipairs(KEYS) do
    local limit, window, units = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
    local count = tonumber(redis.call('GET', key) or '0')
    if count + units > limit then
        local ttl = redis.call('PTTL', key)
        if ttl < 0 then
            ttl = window
        end
        if ttl > wait then
            wait, worst = ttl, i
        end
    end
end
local result = {wait, worst}
for i, key in ipairs(KEYS) do
    if worst > 0 then
        result[i + 2] = tonumber(redis.call('GET', key) or '0')
    else
        result[i + 2] = redis.call('INCRBY', key, tonumber(ARGV[3 * i]))
        if redis.call('PTTL', key) < 0 then
            redis.call('PEXPIRE', key, tonumber(ARGV[3 * i - 1]))
        end
    end
end
return result
"""

# KEYS: bucket keys; ARGV: units for each key. Takes back what TAKE_SCRIPT
# counted; a bucket back at zero is dropped (its window reopens later).
GIVE_BACK_SCRIPT = """
for i, key in ipairs(KEYS) do
    if redis.call('DECRBY', key, tonumber(ARGV[i])) <= 0 then
        redis.call('DEL', key)
    end
end
return 0
"""

_scripts: dict[str, object] = {}


@dataclass(frozen=True)
class Bucket:
    """One counter: `units` of this request against `limit` per `window` seconds."""

    scope: str
    key: str
    limit: int
    window: int
    units: int = 1


class Refusal(NamedTuple):
    scope: str
    retry_after: int  # whole seconds until the bucket has room


def bucket(scope: str, ident: str, rate: str | None, *, units: int = 1) -> Bucket | None:
    """The bucket of `scope` for `ident` ("ip" and an address, "user" and an
    id, ...) at `rate`; None when the rate turns the bucket off."""
    parsed = parse_rate(rate)
    if parsed is None:
        return None
    limit, window = parsed
    # Keys name the database, so installations sharing a Redis count apart.
    key = f"ratelimit:{connection.settings_dict['NAME']}:{scope}:{window}:{ident}"
    return Bucket(scope, key, limit, window, units)


def _script(name: str, source: str):
    client = get_redis()
    script = _scripts.get(name)
    if script is None or script.registered_client is not client:
        script = _scripts[name] = client.register_script(source)
    return script


def take(buckets: list[Bucket]) -> Refusal | None:
    """Count the request in every bucket, or in none when one has no room.

    None means go ahead (also when Redis is unreachable: the limiter fails
    open); a Refusal names the bucket that stays full longest and when it
    has room again."""
    return take_counted(buckets)[0]


def take_counted(buckets: list[Bucket]) -> tuple[Refusal | None, list[int]]:
    """take(), and then each bucket's count in its window (what a client is
    told it used); no counts when Redis is unreachable."""
    if not buckets:
        return None, []
    args = [value for b in buckets for value in (b.limit, b.window * 1000, b.units)]
    try:
        wait_ms, worst, *counts = (int(v) for v in _script("take", TAKE_SCRIPT)(keys=[b.key for b in buckets], args=args))
    except Exception as exc:  # fail open: the limiter being down must not stop trading
        log.warning("rate limiter unavailable, request let through: %s", exc)
        return None, []
    if worst == 0:
        return None, counts
    return Refusal(buckets[worst - 1].scope, max(1, math.ceil(wait_ms / 1000))), counts


def give_back(buckets: list[Bucket]) -> None:
    """Uncount what take() counted (a login attempt that did not fail)."""
    if not buckets:
        return
    try:
        _script("give_back", GIVE_BACK_SCRIPT)(keys=[b.key for b in buckets], args=[b.units for b in buckets])
    except Exception as exc:  # the attempt stays counted until its window closes
        log.warning("rate limiter unavailable, attempt not given back: %s", exc)


def _one(request, view) -> int:
    return 1


def request_weight(request, view) -> int:
    """What the request counts in the per-IP bucket: 1, or the weight the
    view gives it (the Binance-compatible views weigh by their parameters)."""
    weigh = getattr(view, "request_weight", None)
    return 1 if weigh is None else max(1, weigh(request))


def orders_placed(request, view) -> int:
    """How many orders `request` asks to place (0: not an order placement)."""
    counter = getattr(view, "orders_placed", None)
    if request.method != "POST" or counter is None:
        return 0
    return counter(request)


@dataclass(frozen=True)
class Scope:
    """A bucket kind: its name in settings.RATE_LIMITS (and the metric label),
    whom it counts per ("ip" or "user"), and the units a request counts
    (0: the request is not counted there)."""

    name: str
    per: str
    units: Callable[[object, object], int]


# Buckets an operator may set per user (a market maker's order rates).
USER_OVERRIDABLE = ("orders", "orders_day")
SCOPES = (
    Scope("ip", per="ip", units=request_weight),
    Scope("user", per="user", units=_one),
    Scope("orders", per="user", units=orders_placed),
    Scope("orders_day", per="user", units=orders_placed),
)


class RateLimitThrottle(BaseThrottle):
    """Every bucket of settings.RATE_LIMITS that applies, in one Redis call."""

    def buckets(self, request, view) -> list[Bucket]:
        user = getattr(request, "user", None)
        idents = {"ip": client_ip(request) or ""}
        if getattr(user, "is_authenticated", False):
            idents["user"] = str(user.id)
        return list(self._buckets(request, view, idents))

    @staticmethod
    def _buckets(request, view, idents: dict[str, str]) -> Iterable[Bucket]:
        overrides = None
        for scope in SCOPES:
            units = scope.units(request, view) if scope.per in idents else 0
            if not units:
                continue
            rate = settings.RATE_LIMITS.get(scope.name)
            if scope.name in USER_OVERRIDABLE:
                # Read only for requests that place orders (cached).
                overrides = overrides if overrides is not None else order_rate_overrides(user_id=int(idents["user"]))
                rate = overrides.get(scope.name, rate)
            found = bucket(scope.name, idents[scope.per], rate, units=units)
            if found is not None:
                yield found

    def allow_request(self, request, view) -> bool:
        self.wait_seconds = None
        buckets = self.buckets(request, view)
        refusal, counts = take_counted(buckets)
        # Per scope: (units used in the window, the window in seconds), for
        # views that report usage in headers (X-MBX-USED-WEIGHT-1M).
        request.rate_limit_usage = {b.scope: (n, b.window) for b, n in zip(buckets, counts)}
        if refusal is None:
            return True
        self.wait_seconds = refusal.retry_after
        metrics.count_rate_limited(refusal.scope)
        log.info("rate limited", extra={"scope": refusal.scope, "retry_after": refusal.retry_after})
        return False

    def wait(self) -> float | None:
        return self.wait_seconds
