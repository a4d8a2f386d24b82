"""Rate limits per user and per IP, counted atomically in Redis.

One DRF throttle checks every bucket that applies to a request in a single
Redis round trip (a Lua script: INCR, and PEXPIRE when the window opens):

- "ip":     every request, per client address;
- "user":   every authenticated request, per user;
- "orders": POST /api/v1/orders, per user (stricter).

Windows are fixed (they open with the first request). Limits come from
settings.RATE_LIMITS, e.g. {"user": "1200/min"}; an empty value turns that
bucket off. When Redis is unreachable requests are let through (and logged):
an outage of the limiter must not stop trading.
"""

from __future__ import annotations

import logging
import math

from django.conf import settings
from django.db import connection
from rest_framework.throttling import BaseThrottle

from core import metrics
from core.redis import get_redis

log = logging.getLogger(__name__)

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}

# KEYS: bucket keys; ARGV: limit1, window_ms1, limit2, window_ms2, ...
# Returns {longest wait in ms among the buckets over their limit (0: allowed),
# 1-based index of that bucket}.
SCRIPT = """
local wait = 0
local worst = 0
for i, key in ipairs(KEYS) do
    local limit = tonumber(ARGV[2 * i - 1])
    local window = tonumber(ARGV[2 * i])
    local count = redis.call('INCR', key)
    if count == 1 then
        redis.call('PEXPIRE', key, window)
    end
    if count > limit then
        local ttl = redis.call('PTTL', key)
        if ttl < 0 then
            redis.call('PEXPIRE', key, window)
            ttl = window
        end
        if ttl > wait then
            wait = ttl
            worst = i
        end
    end
end
return {wait, worst}
"""


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """"100/min" -> (100, 60); "" or None -> None (no limit)."""
    if not rate:
        return None
    count, _, period = str(rate).partition("/")
    amount, unit = "".join(ch for ch in period if ch.isdigit()) or "1", "".join(ch for ch in period if ch.isalpha())
    return int(count), int(amount) * PERIODS[unit.lower()]


class RateLimitThrottle(BaseThrottle):
    """Per-IP, per-user and order-placement limits in one Redis call."""

    _script = None

    def buckets(self, request, view) -> list[tuple[str, str]]:
        user = getattr(request, "user", None)
        user_id = getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None
        buckets = [("ip", self.get_ident(request))]
        if user_id is not None:
            buckets.append(("user", str(user_id)))
            match = getattr(request, "resolver_match", None)
            if request.method == "POST" and match is not None and match.url_name == "orders":
                buckets.append(("orders", str(user_id)))
        return buckets

    def allow_request(self, request, view) -> bool:
        self.wait_seconds = None
        keys, args, scopes = [], [], []
        for scope, ident in self.buckets(request, view):
            rate = parse_rate(settings.RATE_LIMITS.get(scope))
            if rate is None:
                continue
            limit, window = rate
            keys.append(f"ratelimit:{connection.settings_dict['NAME']}:{scope}:{window}:{ident}")
            args += [limit, window * 1000]
            scopes.append(scope)
        if not keys:
            return True
        try:
            if RateLimitThrottle._script is None:
                RateLimitThrottle._script = get_redis().register_script(SCRIPT)
            wait_ms, worst = (int(v) for v in RateLimitThrottle._script(keys=keys, args=args))
        except Exception as exc:  # fail open: the limiter being down must not stop trading
            log.warning("rate limiter unavailable, request let through: %s", exc)
            return True
        if wait_ms <= 0:
            return True
        self.wait_seconds = max(1, math.ceil(wait_ms / 1000))
        metrics.count_rate_limited(scopes[worst - 1])
        log.info("rate limited", extra={"scope": scopes[worst - 1], "retry_after": self.wait_seconds})
        return False

    def wait(self) -> float | None:
        return self.wait_seconds
