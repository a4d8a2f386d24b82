"""The write path for orders: place and cancel. API, admin and commands all
come through here."""

from __future__ import annotations

from decimal import ROUND_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from matching import services as matching
from matching.engine import constants as c
from matching.models import EngineCommand
from riskadmin import limits as risk
from riskadmin.models import Symbol
from settlement import services as balances

from . import errors
from .models import Order
from .validation import OrderRequest, validate_order

LOCK_QUANTUM = Decimal("1e-18")  # the balance column's precision
# What makes a repeated client_order_id "the same order": every stored request parameter.
COMPARED_FIELDS = (
    "symbol_id", "side", "type", "quantity", "price", "stop_price", "time_in_force",
    "post_only", "self_trade_prevention",
)


def find_symbol(name: str) -> Symbol:
    """Look a symbol up by "BTC/USDT" or "BTC-USDT"."""
    normalized = name.strip().upper().replace("-", "/")
    if "\x00" in normalized:  # PostgreSQL text cannot hold NUL: no symbol has one
        raise errors.UnknownSymbol(symbol=name.replace("\x00", ""))
    try:
        # With its limits: the order path checks them next (one query, not two).
        return Symbol.objects.select_related("limit").get(name=normalized)
    except Symbol.DoesNotExist:
        raise errors.UnknownSymbol(symbol=name) from None


def funds_to_lock(request: OrderRequest) -> tuple[str, Decimal | None]:
    """The asset and amount an order must lock; None means "all available".

    A sell locks its quantity. A limit buy locks price x quantity. A market
    buy locks quote_order_qty if given, else the whole available quote, and
    the engine never lets it spend more. A stop-market buy locks stop price x
    quantity plus STOP_MARKET_BUY_BUFFER.
    """
    symbol = request.symbol
    if request.side == c.SELL:
        return symbol.base_asset, request.quantity
    if request.type in (c.LIMIT, c.STOP_LIMIT):
        return symbol.quote_asset, request.price * request.quantity
    if request.type == c.STOP_MARKET:
        amount = request.stop_price * request.quantity * (1 + settings.STOP_MARKET_BUY_BUFFER)
        return symbol.quote_asset, amount.quantize(LOCK_QUANTUM, rounding=ROUND_UP)
    return symbol.quote_asset, request.quote_order_qty


def _existing_for_client_id(user, request: OrderRequest) -> Order | None:
    if not request.client_order_id:
        return None
    existing = Order.objects.filter(user=user, client_order_id=request.client_order_id).first()
    if existing is None:
        return None
    candidate = Order(
        symbol_id=request.symbol.id,
        side=request.side,
        type=request.type,
        quantity=request.quantity,
        price=request.price,
        stop_price=request.stop_price,
        time_in_force=request.time_in_force,
        post_only=request.post_only,
        self_trade_prevention=request.self_trade_prevention,
    )
    if any(getattr(existing, f) != getattr(candidate, f) for f in COMPARED_FIELDS):
        raise errors.DuplicateClientOrderId(client_order_id=request.client_order_id, order_id=existing.id)
    return existing


def place_order(*, user, request: OrderRequest) -> tuple[Order, EngineCommand | None]:
    """Validate, lock funds, and journal the order for the matcher.

    Returns (order, command). command is None when client_order_id matched
    an earlier order: that order is returned unchanged and nothing is written.
    """
    existing = _existing_for_client_id(user, request)
    if existing is not None:
        return existing, None
    validate_order(request)
    risk.check_symbol_limits(request)
    asset, amount = funds_to_lock(request)
    try:
        with transaction.atomic():
            risk.ensure_still_trading(request.symbol)
            risk.enforce_user_limits(user=user, request=request)
            if amount is None:
                amount = balances.available_for_update(user_id=user.id, asset=asset)
            order = Order.objects.create(
                user=user,
                symbol=request.symbol,
                client_order_id=request.client_order_id,
                side=request.side,
                type=request.type,
                time_in_force=request.time_in_force,
                post_only=request.post_only,
                self_trade_prevention=request.self_trade_prevention,
                price=request.price,
                stop_price=request.stop_price,
                quantity=request.quantity,
                locked_asset=asset,
                locked_amount=amount,
            )
            balances.lock_order_funds(order_id=order.id, user_id=user.id, asset=asset, amount=amount)
            command = matching.submit_command(order=order, kind=EngineCommand.Kind.PLACE)
    except IntegrityError:
        # Two requests raced with the same client_order_id: the loser's
        # transaction (its lock included) rolled back; answer with the winner.
        existing = _existing_for_client_id(user, request)
        if existing is None:
            raise
        return existing, None
    return order, command


def get_own_order(*, user, order_id: int) -> Order:
    """The user's order; another user's order is "not found", never "forbidden"."""
    try:
        return Order.objects.select_related("symbol").get(id=order_id, user=user)
    except Order.DoesNotExist:
        raise errors.OrderNotFound(order_id=order_id) from None


@transaction.atomic
def cancel_order(*, user, order_id: int, reason: str = c.CANCELLED_BY_USER) -> tuple[Order, EngineCommand]:
    """Journal a cancel for the matcher. Returns (order, command).

    If a cancel for the order is already waiting for the matcher, that
    command is returned: a repeated DELETE does not queue another one.
    """
    try:
        # Lock the order row only: a plain FOR UPDATE would also lock the joined
        # symbol row, which the matcher holds while a batch writes last_price.
        order = Order.objects.select_for_update(of=("self",)).select_related("symbol").get(id=order_id, user=user)
    except Order.DoesNotExist:
        raise errors.OrderNotFound(order_id=order_id) from None
    if order.is_final:
        raise errors.OrderNotCancellable(order_id=order.id, status=order.status)
    pending = order.commands.filter(kind=EngineCommand.Kind.CANCEL, processed_at__isnull=True).first()
    if pending is not None:
        return order, pending
    return order, matching.submit_command(order=order, kind=EngineCommand.Kind.CANCEL, reason=reason)
