"""Between Order rows (Decimal) and engine orders (integers)."""

from __future__ import annotations

from matching.engine import Order as EngineOrder
from matching.engine import constants as c
from matching.engine.scale import SymbolScale


def to_engine_order(order, scale: SymbolScale) -> EngineOrder:
    """An engine order for an Order row, carrying its fills so far."""
    budget = None
    if order.side == c.BUY and order.type in (c.MARKET, c.STOP_MARKET):
        budget = scale.to_units_floor(order.locked_amount)
    return EngineOrder(
        order.id,
        order.user_id,
        order.side,
        scale.to_lots(order.quantity),
        None if order.price is None else scale.to_ticks(order.price),
        type=order.type,
        time_in_force=order.time_in_force,
        stop_price=None if order.stop_price is None else scale.to_ticks(order.stop_price),
        quote_budget=budget,
        post_only=order.post_only,
        stp=order.self_trade_prevention,
        filled=scale.to_lots(order.filled_quantity),
        spent=scale.to_units_floor(order.executed_quote),
        status=order.status,
        seq=order.sequence,
        triggered=order.triggered,
    )


def amend_arguments(command, scale: SymbolScale) -> dict:
    """MatchingEngine.amend's keyword arguments for an AMEND command."""
    return {
        "quantity": scale.to_lots(command.quantity),
        "price": None if command.price is None else scale.to_ticks(command.price),
        "stop_price": None if command.stop_price is None else scale.to_ticks(command.stop_price),
    }
