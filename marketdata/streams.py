"""Names of the streams clients subscribe to.

Clients name a stream "trades:BTC-USDT", "depth:BTC-USDT", "ticker:BTC-USDT",
"candles:BTC-USDT:1m" or "orders" (their own orders, after auth). Public
streams travel over Redis pub/sub (see `fanout`); each user's orders over a
Channels group of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

# Candle intervals in seconds; buckets are aligned to 2000-01-01T00:00Z.
INTERVALS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}
PUBLIC_KINDS = ("trades", "depth", "ticker", "candles")
ORDERS = "orders"


class StreamError(ValueError):
    """A stream name the server does not know; carries an error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Stream:
    kind: str
    symbol: str = ""  # "BTC/USDT"
    interval: str = ""

    @property
    def name(self) -> str:
        if self.kind == ORDERS:
            return ORDERS
        parts = [self.kind, self.symbol.replace("/", "-")]
        if self.interval:
            parts.append(self.interval)
        return ":".join(parts)


def parse_stream(name: str) -> Stream:
    """"depth:BTC-USDT" -> Stream("depth", "BTC/USDT"); raises StreamError."""
    if not isinstance(name, str) or not name:
        raise StreamError("INVALID_CHANNEL", "A channel is a non-empty string.")
    if name == ORDERS:
        return Stream(ORDERS)
    kind, _, rest = name.partition(":")
    if kind not in PUBLIC_KINDS or not rest:
        raise StreamError("INVALID_CHANNEL", f"Unknown channel {name!r}.")
    symbol, _, interval = rest.partition(":")
    symbol = symbol.strip().upper().replace("-", "/")
    if not symbol.replace("/", "").isalnum() or symbol.count("/") != 1:
        raise StreamError("INVALID_CHANNEL", f"Malformed symbol in {name!r}.")
    if kind == "candles":
        if interval not in INTERVALS:
            raise StreamError("INVALID_CHANNEL", f"Candles need an interval: one of {', '.join(INTERVALS)}.")
    elif interval:
        raise StreamError("INVALID_CHANNEL", f"Unknown channel {name!r}.")
    return Stream(kind, symbol, interval)


def stream_of(kind: str, symbol: str, interval: str = "") -> Stream:
    return Stream(kind, symbol, interval)


def user_group(user_id: int) -> str:
    return f"md.orders.{user_id}"
