"""Builders for engine orders and engines, for tests that need no database."""

from __future__ import annotations

from matching.engine import MatchingEngine, Order
from matching.engine import constants as c


def limit(id: int, side: str, qty: int, price: int, user: int = 1, **kw) -> Order:
    return Order(id, user, side, qty, price, **kw)


def market(id: int, side: str, qty: int, user: int = 1, **kw) -> Order:
    return Order(id, user, side, qty, None, type=c.MARKET, **kw)


def stop(id: int, side: str, qty: int, stop_price: int, price: int | None = None, user: int = 1, **kw) -> Order:
    """A STOP_LIMIT when given a limit price, else a STOP_MARKET."""
    kind = c.STOP_MARKET if price is None else c.STOP_LIMIT
    return Order(id, user, side, qty, price, type=kind, stop_price=stop_price, **kw)


def copy_order(order: Order) -> Order:
    """A fresh Order with every field of `order` (as storage would give it back)."""
    clone = Order(
        order.id,
        order.user_id,
        order.side,
        order.quantity,
        order.price,
        type=order.type,
        time_in_force=order.time_in_force,
        stop_price=order.stop_price,
        quote_budget=order.quote_budget,
        post_only=order.post_only,
        stp=order.stp,
        filled=order.filled,
        spent=order.spent,
        status=order.status,
        seq=order.seq,
        triggered=order.triggered,
    )
    clone.cancel_reason = order.cancel_reason
    clone.reject_reason = order.reject_reason
    return clone


def state(order: Order) -> tuple:
    """Everything the engine may change on an order."""
    return (
        order.id,
        order.status,
        order.filled,
        order.spent,
        order.seq,
        order.triggered,
        order.cancel_reason,
        order.reject_reason,
    )


def engine_with(*orders: Order, last_price: int | None = None) -> MatchingEngine:
    """An engine that has accepted `orders` in turn, with its results drained."""
    engine = MatchingEngine("TEST")
    for order in orders:
        engine.place(order)
    if last_price is not None:
        engine.last_price = last_price
    engine.drain()
    return engine


def trade_tuples(engine: MatchingEngine) -> list[tuple]:
    """(price, quantity, maker id, taker id) of the trades since the last drain."""
    trades, _ = engine.drain()
    return [(t.price, t.quantity, t.maker_order_id, t.taker_order_id) for t in trades]
