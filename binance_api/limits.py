"""Our rate limits (settings.RATE_LIMITS) in Binance's terms: the
`rateLimits` of exchangeInfo and the X-MBX-USED-WEIGHT-<n><unit> header."""

from __future__ import annotations

from django.conf import settings

from core.rates import parse_rate

# Binance's interval names, largest first, and their header letters.
UNITS = (("DAY", 86400, "D"), ("HOUR", 3600, "H"), ("MINUTE", 60, "M"), ("SECOND", 1, "S"))

# Which of our buckets each Binance limit is: the per-IP bucket counts
# request weight; the order buckets count orders per user.
BUCKETS = (("REQUEST_WEIGHT", "ip"), ("ORDERS", "orders"), ("ORDERS", "orders_day"))


def interval(window: int) -> tuple[int, str]:
    """A window in seconds as (intervalNum, interval): 60 -> (1, "MINUTE")."""
    for name, seconds, _ in UNITS:
        if window % seconds == 0:
            return window // seconds, name
    return window, "SECOND"


def weight_header(window: int) -> str:
    count, name = interval(window)
    letter = next(letter for unit, _, letter in UNITS if unit == name)
    return f"X-MBX-USED-WEIGHT-{count}{letter}"


def rate_limits() -> list[dict]:
    """exchangeInfo's rateLimits; a bucket turned off is left out."""
    found = []
    for kind, bucket in BUCKETS:
        rate = parse_rate(settings.RATE_LIMITS.get(bucket))
        if rate is None:
            continue
        limit, window = rate
        count, name = interval(window)
        found.append({"rateLimitType": kind, "interval": name, "intervalNum": count, "limit": limit})
    return found
