"""Redis key names for market data. Keys name the database, as the matcher's
command keys do, so several installations (or test runs) can share a Redis."""

from __future__ import annotations

from django.db import connections


def _database() -> str:
    return connections["default"].settings_dict["NAME"]


def book_snapshot_key(symbol_name: str) -> str:
    return f"marketdata:{_database()}:book:{symbol_name}"


def ws_stats_prefix() -> str:
    return f"marketdata:{_database()}:ws:process:"


def publisher_stats_key() -> str:
    return f"marketdata:{_database()}:publisher"


def stream_channel(stream_name: str) -> str:
    """The Redis pub/sub channel of a public stream ("trades:BTC-USDT")."""
    return f"md:{_database()}:{stream_name}"


def stream_channel_pattern() -> str:
    """The PSUBSCRIBE pattern of every public stream of this installation."""
    name = "".join("\\" + c if c in "*?[]\\" else c for c in _database())
    return f"md:{name}:*"
