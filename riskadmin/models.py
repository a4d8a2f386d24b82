"""Tradable symbols with their filters, fees and trading status."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from matching.engine.scale import SymbolScale

MONEY = {"max_digits": 36, "decimal_places": 18}


class Symbol(models.Model):
    class Status(models.TextChoices):
        TRADING = "TRADING"
        HALTED = "HALTED"

    name = models.CharField(max_length=32, unique=True, help_text='Written "BASE/QUOTE", e.g. BTC/USDT.')
    base_asset = models.CharField(max_length=16)
    quote_asset = models.CharField(max_length=16)
    tick_size = models.DecimalField(**MONEY)
    step_size = models.DecimalField(**MONEY)
    min_quantity = models.DecimalField(**MONEY)
    min_notional = models.DecimalField(**MONEY, default=Decimal("0"))
    maker_fee = models.DecimalField(max_digits=8, decimal_places=6, default=Decimal("0.001"))
    taker_fee = models.DecimalField(max_digits=8, decimal_places=6, default=Decimal("0.001"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.TRADING)
    halt_reason = models.CharField(max_length=255, blank=True)
    # Written by the matcher in the same transaction as the trades it prices.
    last_price = models.DecimalField(**MONEY, null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(tick_size__gt=0), name="symbol_tick_size_positive"),
            models.CheckConstraint(condition=models.Q(step_size__gt=0), name="symbol_step_size_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def url_name(self) -> str:
        return self.name.replace("/", "-")

    @property
    def is_halted(self) -> bool:
        return self.status == self.Status.HALTED

    @property
    def scale(self) -> SymbolScale:
        return SymbolScale(self.tick_size, self.step_size)


class SymbolLimit(models.Model):
    """Operator limits on one symbol, on top of its filters. Empty = no limit."""

    symbol = models.OneToOneField(Symbol, on_delete=models.CASCADE, primary_key=True, related_name="limit")
    min_order_size = models.DecimalField(**MONEY, null=True, blank=True, help_text="Smallest quantity (base asset).")
    max_order_size = models.DecimalField(**MONEY, null=True, blank=True, help_text="Largest quantity (base asset).")
    max_price_deviation = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True,
        help_text="Largest distance of a price or stop price from the last price, as a fraction (0.1 = 10%).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"limits of {self.symbol_id}"


class UserLimit(models.Model):
    """Operator limits on one user. Amounts are quote notional; empty = no limit."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="trading_limit")
    max_order_size = models.DecimalField(**MONEY, null=True, blank=True, help_text="Largest order value (quote).")
    max_daily_volume = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Largest value of orders placed per UTC day (quote)."
    )
    max_open_orders = models.PositiveIntegerField(null=True, blank=True)
    requires_2fa_above = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Orders worth more than this (quote) need a TOTP code."
    )
    # Overrides of the venue defaults for one user (a market maker, say):
    # order rate limits (settings.RATE_LIMITS) and the symbols' fee rates.
    orders_per_10s = models.PositiveIntegerField(null=True, blank=True, help_text="Orders per 10 s; empty = the venue default.")
    orders_per_day = models.PositiveIntegerField(null=True, blank=True, help_text="Orders per day; empty = the venue default.")
    maker_fee = models.DecimalField(max_digits=8, decimal_places=6, null=True, blank=True, help_text="Empty = the symbol's maker fee.")
    taker_fee = models.DecimalField(max_digits=8, decimal_places=6, null=True, blank=True, help_text="Empty = the symbol's taker fee.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(maker_fee__gte=0) | Q(maker_fee__isnull=True), name="user_limit_maker_fee_not_negative"),
            models.CheckConstraint(condition=Q(taker_fee__gte=0) | Q(taker_fee__isnull=True), name="user_limit_taker_fee_not_negative"),
        ]

    def __str__(self) -> str:
        return f"limits of user {self.user_id}"


class DailyVolume(models.Model):
    """Quote notional of the orders a user placed on one UTC day, counted in
    the transaction that accepts each order (so a rollback uncounts it)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    notional = models.DecimalField(**MONEY, default=Decimal("0"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="daily_volume_one_per_user_day")]


class TotpDevice(models.Model):
    """A user's TOTP secret (RFC 6238). last_step refuses a code used twice."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="totp_device")
    secret = models.CharField(max_length=64)
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"TOTP of user {self.user_id}"


class AuditLog(models.Model):
    """What operators did. Append-only: the database refuses UPDATE and DELETE."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True, default="")
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=128, blank=True, default="")
    payload = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.target}"
