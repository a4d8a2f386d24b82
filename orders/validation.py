"""Checks an order must pass before it may lock funds (no writes here)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from matching.engine import OrderRuleError, check_order_combination
from matching.engine import constants as c
from riskadmin.models import Symbol

from . import errors


@dataclass(frozen=True)
class OrderRequest:
    """A parsed order request, before it becomes an Order row."""

    symbol: Symbol
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: str = c.GTC
    post_only: bool = False
    self_trade_prevention: str = c.CANCEL_TAKER
    client_order_id: str = ""
    quote_order_qty: Decimal | None = None
    # Needed only above the user's requires_2fa_above; checked, never stored.
    totp_code: str = ""


def validate_order(request: OrderRequest) -> None:
    """Raise the first rule the request breaks, in the order a trader fixes them."""
    symbol = request.symbol
    if symbol.is_halted:
        raise errors.SymbolHalted(symbol=symbol.name, reason=symbol.halt_reason)
    try:
        check_order_combination(type=request.type, time_in_force=request.time_in_force, post_only=request.post_only)
    except OrderRuleError as exc:
        raise errors.InvalidOrderCombination(exc.code, exc.message) from exc
    _validate_prices(request)
    _validate_quantity(request)
    _validate_notional(request)


def _validate_prices(request: OrderRequest) -> None:
    needs_price = request.type in (c.LIMIT, c.STOP_LIMIT)
    needs_stop = request.type in c.STOP_TYPES
    if needs_price and request.price is None:
        raise errors.InvalidPrice(f"A {request.type} order needs a price.")
    if not needs_price and request.price is not None:
        raise errors.InvalidPrice(f"A {request.type} order takes no price.")
    if needs_stop and request.stop_price is None:
        raise errors.InvalidPrice(f"A {request.type} order needs a stop_price.")
    if not needs_stop and request.stop_price is not None:
        raise errors.InvalidPrice(f"A {request.type} order takes no stop_price.")
    scale = request.symbol.scale
    for name in ("price", "stop_price"):
        value = getattr(request, name)
        if value is None:
            continue
        if not value.is_finite() or value <= 0:
            raise errors.InvalidPrice(f"{name} must be positive.", field=name)
        if not scale.is_on_tick(value):
            raise errors.PriceNotOnTick(field=name, tick_size=str(request.symbol.tick_size))


def _validate_quantity(request: OrderRequest) -> None:
    quantity = request.quantity
    if not quantity.is_finite() or quantity <= 0:
        raise errors.InvalidQuantity("quantity must be positive.")
    if not request.symbol.scale.is_on_step(quantity):
        raise errors.QuantityNotOnStep(step_size=str(request.symbol.step_size))
    if quantity < request.symbol.min_quantity:
        raise errors.InvalidQuantity(
            "quantity is below the symbol's minimum.", min_quantity=str(request.symbol.min_quantity)
        )
    if request.quote_order_qty is not None:
        if request.type != c.MARKET or request.side != c.BUY:
            raise errors.InvalidQuantity("quote_order_qty applies to market buys only.")
        if not request.quote_order_qty.is_finite() or request.quote_order_qty <= 0:
            raise errors.InvalidQuantity("quote_order_qty must be positive.")


def reference_price(request: OrderRequest) -> Decimal | None:
    """The price the order's value is judged at (None: not known yet)."""
    if request.price is not None:
        return request.price
    if request.stop_price is not None:
        return request.stop_price
    return request.symbol.last_price


def _validate_notional(request: OrderRequest) -> None:
    price = reference_price(request)
    if price is None or not request.symbol.min_notional:
        return
    if price * request.quantity < request.symbol.min_notional:
        raise errors.MinNotional(min_notional=str(request.symbol.min_notional))
