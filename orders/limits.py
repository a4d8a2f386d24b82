"""Risk limits every order must pass (called from the order write path).

Symbol limits only read the request, so `check_symbol_limits` runs with the
other validation. User limits count what the user already has (open orders,
today's volume), so `enforce_user_limits` runs inside the transaction that
writes the order, holding the user's limit row locked: two racing orders of
one user are judged one after the other, and today's volume is counted in
that same transaction (a rolled-back order is not counted).
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from riskadmin.errors import LimitExceeded, PriceOutOfBand
from riskadmin.models import DailyVolume, Symbol, SymbolLimit, UserLimit
from riskadmin.services import verify_totp

from .errors import SymbolHalted
from .models import Order
from .validation import OrderRequest, reference_price


def order_notional(request: OrderRequest) -> Decimal | None:
    """The order's value in quote; None when it cannot be known yet (a market
    order on a symbol that never traded)."""
    if request.quote_order_qty is not None:
        return request.quote_order_qty
    price = reference_price(request)
    return None if price is None else price * request.quantity


def check_symbol_limits(request: OrderRequest) -> None:
    """Quantity bounds and the price band of the symbol (reads only)."""
    try:
        limit = request.symbol.limit  # joined by find_symbol; else one lookup
    except SymbolLimit.DoesNotExist:
        return
    quantity = request.quantity
    if limit.min_order_size is not None and quantity < limit.min_order_size:
        raise LimitExceeded("quantity is below the symbol's min_order_size.", limit="min_order_size", value=str(limit.min_order_size))
    if limit.max_order_size is not None and quantity > limit.max_order_size:
        raise LimitExceeded("quantity is above the symbol's max_order_size.", limit="max_order_size", value=str(limit.max_order_size))
    last = request.symbol.last_price
    if limit.max_price_deviation is None or not last:
        return
    low, high = last * (1 - limit.max_price_deviation), last * (1 + limit.max_price_deviation)
    for name in ("price", "stop_price"):
        value = getattr(request, name)
        if value is not None and not low <= value <= high:
            raise PriceOutOfBand(
                field=name, last_price=str(last), max_price_deviation=str(limit.max_price_deviation),
                low=str(low), high=str(high),
            )


def enforce_user_limits(*, user, request: OrderRequest) -> None:
    """Check the user's limits and count the order in today's volume.

    Must run inside the transaction that writes the order. Users without a
    limit row pay one indexed lookup and nothing else.
    """
    limit = UserLimit.objects.select_for_update().filter(user_id=user.id).first()
    if limit is None:
        return
    notional = order_notional(request)
    if notional is None and (limit.max_order_size is not None or limit.max_daily_volume is not None or limit.requires_2fa_above is not None):
        raise LimitExceeded(
            "The order's value cannot be judged yet (the symbol has no last price); use a limit order.", limit="max_order_size"
        )
    if limit.max_order_size is not None and notional > limit.max_order_size:
        raise LimitExceeded("The order's value is above your max_order_size.", limit="max_order_size", value=str(limit.max_order_size))
    if limit.max_open_orders is not None:
        open_orders = Order.objects.filter(user_id=user.id, status__in=Order.LIVE_STATUSES).count()
        if open_orders >= limit.max_open_orders:
            raise LimitExceeded("You have as many open orders as allowed.", limit="max_open_orders", value=limit.max_open_orders)
    if limit.max_daily_volume is not None:
        _count_daily_volume(user_id=user.id, notional=notional, maximum=limit.max_daily_volume)
    if limit.requires_2fa_above is not None and notional > limit.requires_2fa_above:
        verify_totp(user_id=user.id, code=request.totp_code)


def _count_daily_volume(*, user_id: int, notional: Decimal, maximum: Decimal) -> None:
    today = timezone.now().date()
    row, _ = DailyVolume.objects.get_or_create(user_id=user_id, day=today)
    if row.notional + notional > maximum:
        raise LimitExceeded(
            "The order would take today's volume above your max_daily_volume.",
            limit="max_daily_volume", value=str(maximum), used=str(row.notional),
        )
    DailyVolume.objects.filter(id=row.id).update(notional=F("notional") + notional)


def ensure_still_trading(symbol) -> None:
    """Re-read the status inside the order's transaction: a halt committed
    after the request was validated still stops the order."""
    status, reason = Symbol.objects.filter(id=symbol.id).values_list("status", "halt_reason").get()
    if status == Symbol.Status.HALTED:
        raise SymbolHalted(symbol=symbol.name, reason=reason)
