"""Rate strings as settings.RATE_LIMITS writes them ("1200/min", "100/10s")."""

from __future__ import annotations

PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


def parse_rate(rate: str | None) -> tuple[int, int] | None:
    """"100/min" -> (100, 60); "100/10s" -> (100, 10); "" or None -> None (no limit)."""
    if not rate:
        return None
    count, _, period = str(rate).partition("/")
    amount, unit = "".join(ch for ch in period if ch.isdigit()) or "1", "".join(ch for ch in period if ch.isalpha())
    return int(count), int(amount) * PERIODS[unit.lower()]
