"""Tradable symbols with their filters, fees and trading status."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

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
