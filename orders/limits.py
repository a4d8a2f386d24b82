"""Risk limits every order must pass (called from the order write path).

Symbol limits only read the request, so `check_symbol_limits` runs with the
other validation. User limits count what the user already has (open orders,
today's volume), so `UserLimitGate` runs inside the transaction that
writes the orders, holding the user's limit row locked: two racing requests
of one user are judged one after the other, and today's volume is counted
in that same transaction (a rolled-back order is not counted).
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from riskadmin.errors import LimitExceeded, PriceOutOfBand
from riskadmin.models import DailyVolume, Symbol, SymbolLimit, UserLimit
from riskadmin.services import verify_totp

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


class UserLimitGate:
    """The user's limits for the orders of one request (one or a batch).

    `open` reads the limit row, row-locked, inside the transaction that
    writes the orders; `judge` checks each order in turn and `count` counts
    an accepted one as if it were already written (open orders, today's
    volume), so a batch is judged as the same orders sent one by one would
    be; `close` writes today's volume once. Users without a limit row pay one indexed lookup.
    """

    def __init__(self, user_id: int, limit: UserLimit | None) -> None:
        self.user_id = user_id
        self.limit = limit
        self._open_orders: int | None = None
        self._volume: DailyVolume | None = None
        self._added = Decimal("0")

    @classmethod
    def open(cls, user_id: int) -> "UserLimitGate":
        return cls(user_id, UserLimit.objects.select_for_update().filter(user_id=user_id).first())

    def judge(self, request: OrderRequest) -> Decimal | None:
        """Raise the first limit the order breaks; returns its value (for `count`)."""
        limit = self.limit
        if limit is None:
            return None
        notional = self._within_max_order_size(request)
        if limit.max_open_orders is not None:
            if self._open_orders is None:
                self._open_orders = Order.objects.filter(user_id=self.user_id, status__in=Order.LIVE_STATUSES).count()
            if self._open_orders >= limit.max_open_orders:
                raise LimitExceeded("You have as many open orders as allowed.", limit="max_open_orders", value=limit.max_open_orders)
        if limit.max_daily_volume is not None:
            if self._volume is None:
                self._volume, _ = DailyVolume.objects.get_or_create(user_id=self.user_id, day=timezone.now().date())
            used = self._volume.notional + self._added
            if used + notional > limit.max_daily_volume:
                raise LimitExceeded(
                    "The order would take today's volume above your max_daily_volume.",
                    limit="max_daily_volume", value=str(limit.max_daily_volume), used=str(used),
                )
        self._verify_2fa_above(request, notional)
        return notional

    def count(self, notional: Decimal | None) -> None:
        """Count an order that `judge` passed and that is being written."""
        if self.limit is None:
            return
        if self.limit.max_daily_volume is not None:
            self._added += notional
        if self._open_orders is not None:
            self._open_orders += 1

    def judge_amend(self, request: OrderRequest) -> None:
        """An amended order must still pass the value limits (an order may
        not grow past max_order_size, or past 2FA, by amending)."""
        if self.limit is not None:
            self._verify_2fa_above(request, self._within_max_order_size(request))

    def close(self) -> None:
        if self._added:
            DailyVolume.objects.filter(id=self._volume.id).update(notional=F("notional") + self._added)

    def _within_max_order_size(self, request: OrderRequest) -> Decimal | None:
        """The order's value, once it is known to be within max_order_size."""
        limit = self.limit
        notional = order_notional(request)
        if notional is None and (limit.max_order_size is not None or limit.max_daily_volume is not None or limit.requires_2fa_above is not None):
            raise LimitExceeded(
                "The order's value cannot be judged yet (the symbol has no last price); use a limit order.", limit="max_order_size"
            )
        if limit.max_order_size is not None and notional > limit.max_order_size:
            raise LimitExceeded("The order's value is above your max_order_size.", limit="max_order_size", value=str(limit.max_order_size))
        return notional

    def _verify_2fa_above(self, request: OrderRequest, notional: Decimal | None) -> None:
        threshold = self.limit.requires_2fa_above
        if threshold is not None and notional > threshold:
            verify_totp(user_id=self.user_id, code=request.totp_code)


def halted_symbols(symbol_ids) -> dict[int, str]:
    """Symbols among these halted now, with the halt reason: read inside
    the orders' transaction, so a halt committed after the requests were
    validated still stops them."""
    rows = Symbol.objects.filter(id__in=set(symbol_ids), status=Symbol.Status.HALTED).values_list("id", "halt_reason")
    return dict(rows)
