"""Market data as JSON-ready dicts: Decimals as plain strings, times as ISO 8601."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from core.api.fields import plain
from matching.engine.scale import SymbolScale

from .events import LevelMap, OrderState


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def levels(scale: SymbolScale, pairs, *, descending: bool) -> list[list[str]]:
    """[(ticks, lots)] or a LevelMap -> [["50000.00", "1.5"]], best first."""
    items = pairs.items() if isinstance(pairs, dict) else pairs
    pp, qp = scale.price_places, scale.quantity_places
    return [
        [plain(scale.price(ticks), pp), plain(scale.quantity(lots), qp)]
        for ticks, lots in sorted(items, reverse=descending)
    ]


def top(level_map: LevelMap, limit: int, *, descending: bool) -> list[tuple[int, int]]:
    prices = sorted(level_map, reverse=descending)[:limit]
    return [(price, level_map[price]) for price in prices]


def trade(scale: SymbolScale, row: dict) -> dict:
    return {
        "id": row["id"],
        "price": plain(row["price"], scale.price_places),
        "quantity": plain(row["quantity"], scale.quantity_places),
        "taker_side": row["taker_side"],
        "executed_at": iso(row["executed_at"]),
    }


def candle(scale: SymbolScale, row: dict) -> dict:
    pp = scale.price_places
    return {
        "open_time": iso(row["open_time"]),
        "open": plain(row["open"], pp),
        "high": plain(row["high"], pp),
        "low": plain(row["low"], pp),
        "close": plain(row["close"], pp),
        "volume": plain(row["volume"]),
        "quote_volume": plain(row["quote_volume"]),
    }


def candle_flow(row: dict) -> dict:
    """What a candle's trades were: how many, and what taker buys bought."""
    return {
        "trades": row["trades"],
        "taker_buy_volume": plain(row["taker_buy_volume"]),
        "taker_buy_quote_volume": plain(row["taker_buy_quote_volume"]),
    }


def decimal_or_none(value: Decimal | None, places: int | None = None) -> str | None:
    return None if value is None else plain(value, places)


def order_state(symbol_name: str, scale: SymbolScale, order: OrderState) -> dict:
    pp, qp = scale.price_places, scale.quantity_places
    return {
        "id": order.id,
        "symbol": symbol_name,
        "side": order.side,
        "type": order.type,
        "status": order.status,
        "price": None if order.price is None else plain(scale.price(order.price), pp),
        "quantity": plain(scale.quantity(order.quantity), qp),
        "filled_quantity": plain(scale.quantity(order.filled), qp),
        "remaining_quantity": plain(scale.quantity(order.quantity - order.filled), qp),
        "executed_quote": plain(scale.quote(order.spent)),
        "cancel_reason": order.cancel_reason,
        "reject_reason": order.reject_reason,
    }
