"""Orders as traders placed them, trades as the matcher made them, and fills
(each side's view of a trade)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from matching.engine import constants as c

MONEY = {"max_digits": 36, "decimal_places": 18}


def _choices(*values: str) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


class Order(models.Model):
    SIDES = _choices(c.BUY, c.SELL)
    TYPES = _choices(c.LIMIT, c.MARKET, c.STOP_MARKET, c.STOP_LIMIT)
    TIME_IN_FORCE = _choices(c.GTC, c.IOC, c.FOK)
    STP_MODES = _choices(c.CANCEL_TAKER, c.CANCEL_MAKER, c.CANCEL_BOTH, c.STP_NONE)
    STATUSES = _choices(c.PENDING, c.UNTRIGGERED, c.OPEN, c.PARTIALLY_FILLED, c.FILLED, c.CANCELLED, c.REJECTED)
    LIVE_STATUSES = (c.PENDING, c.UNTRIGGERED, c.OPEN, c.PARTIALLY_FILLED)
    RESTING_STATUSES = (c.UNTRIGGERED, c.OPEN, c.PARTIALLY_FILLED)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    symbol = models.ForeignKey("riskadmin.Symbol", on_delete=models.PROTECT, related_name="orders")
    client_order_id = models.CharField(max_length=64, blank=True, default="")
    side = models.CharField(max_length=4, choices=SIDES)
    type = models.CharField(max_length=12, choices=TYPES)
    time_in_force = models.CharField(max_length=3, choices=TIME_IN_FORCE, default=c.GTC)
    post_only = models.BooleanField(default=False)
    self_trade_prevention = models.CharField(max_length=12, choices=STP_MODES, default=c.CANCEL_TAKER)
    price = models.DecimalField(**MONEY, null=True, blank=True)
    stop_price = models.DecimalField(**MONEY, null=True, blank=True)
    quantity = models.DecimalField(**MONEY)
    filled_quantity = models.DecimalField(**MONEY, default=Decimal("0"))
    # Quote value of all fills: what a buy spent, what a sell received (before fees).
    executed_quote = models.DecimalField(**MONEY, default=Decimal("0"))
    # What the order locked when accepted; the unused part is released when it ends.
    locked_asset = models.CharField(max_length=16)
    locked_amount = models.DecimalField(**MONEY)
    # Indexed for live statuses only (Meta.indexes): an index on every status grows with every ended order.
    status = models.CharField(max_length=16, choices=STATUSES, default=c.PENDING)
    reject_reason = models.CharField(max_length=64, blank=True, default="")
    cancel_reason = models.CharField(max_length=64, blank=True, default="")
    triggered = models.BooleanField(default=False)
    # Time priority inside the matcher's book, assigned when the order rests.
    sequence = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client_order_id"],
                condition=~Q(client_order_id=""),
                name="order_client_order_id_unique_per_user",
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_quantity_positive"),
            models.CheckConstraint(
                condition=Q(filled_quantity__gte=0) & Q(filled_quantity__lte=models.F("quantity")),
                name="order_filled_within_quantity",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-id"], name="order_user_newest"),
            models.Index(
                fields=["symbol", "sequence"],
                condition=Q(status__in=("UNTRIGGERED", "OPEN", "PARTIALLY_FILLED")),
                name="order_resting_by_symbol",
            ),
            # Open-order queries, cancel-all and reconciliation read live orders only;
            # this index stays as small as the open orders, however many have ended.
            models.Index(
                fields=["user", "symbol"],
                condition=Q(status__in=("PENDING", "UNTRIGGERED", "OPEN", "PARTIALLY_FILLED")),
                name="order_live_by_user",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.side} {self.type} {self.quantity} {self.symbol_id} {self.status}"

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def average_price(self) -> Decimal | None:
        if not self.filled_quantity:
            return None
        return self.executed_quote / self.filled_quantity

    @property
    def is_final(self) -> bool:
        return self.status in c.FINAL_STATUSES


class Trade(models.Model):
    class Settlement(models.TextChoices):
        PENDING = "PENDING"
        SETTLED = "SETTLED"
        FAILED = "FAILED"

    symbol = models.ForeignKey("riskadmin.Symbol", on_delete=models.PROTECT, related_name="trades")
    # The engine's trade number for the symbol: unique, so a batch can never be written twice.
    sequence = models.BigIntegerField()
    price = models.DecimalField(**MONEY)
    quantity = models.DecimalField(**MONEY)
    quote_quantity = models.DecimalField(**MONEY)
    taker_side = models.CharField(max_length=4, choices=Order.SIDES)
    maker_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+")
    taker_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="+")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    buyer_fee = models.DecimalField(**MONEY, default=Decimal("0"))  # in the base asset
    seller_fee = models.DecimalField(**MONEY, default=Decimal("0"))  # in the quote asset
    executed_at = models.DateTimeField()
    # Indexed for unsettled trades only (Meta.indexes), not for the settled millions.
    settlement_status = models.CharField(max_length=8, choices=Settlement.choices, default=Settlement.PENDING)
    settled_at = models.DateTimeField(null=True, blank=True)
    settlement_error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["symbol", "sequence"], name="trade_sequence_unique_per_symbol"),
        ]
        # Candles and the 24 h ticker read a symbol's trades by time.
        indexes = [
            models.Index(fields=["symbol", "executed_at"], name="trade_symbol_executed_at"),
            # Matcher start-up, the settlement sweep and reconciliation read unsettled trades only.
            models.Index(
                fields=["symbol", "executed_at"],
                condition=Q(settlement_status__in=("PENDING", "FAILED")),
                name="trade_unsettled",
            ),
        ]

    def __str__(self) -> str:
        return f"trade {self.symbol_id}#{self.sequence} {self.quantity}@{self.price}"


class Fill(models.Model):
    """One order's side of a trade: what the trader sees in /fills."""

    class Liquidity(models.TextChoices):
        MAKER = "MAKER"
        TAKER = "TAKER"

    trade = models.ForeignKey(Trade, on_delete=models.PROTECT, related_name="fills")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="fills")
    symbol = models.ForeignKey("riskadmin.Symbol", on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=4, choices=Order.SIDES)
    liquidity = models.CharField(max_length=5, choices=Liquidity.choices)
    price = models.DecimalField(**MONEY)
    quantity = models.DecimalField(**MONEY)
    fee = models.DecimalField(**MONEY)
    fee_asset = models.CharField(max_length=16)
    executed_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["trade", "order"], name="fill_one_per_trade_leg"),
        ]
        indexes = [models.Index(fields=["user", "-id"], name="fill_user_newest")]
