"""Write path for symbols."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from .models import Symbol


@transaction.atomic
def symbol_upsert(
    *,
    name: str,
    tick_size: Decimal,
    step_size: Decimal,
    min_quantity: Decimal,
    min_notional: Decimal = Decimal("0"),
    maker_fee: Decimal = Decimal("0.001"),
    taker_fee: Decimal = Decimal("0.001"),
) -> Symbol:
    """Create a symbol "BASE/QUOTE", or update its filters and fees."""
    base, quote = name.upper().split("/")
    symbol, _ = Symbol.objects.update_or_create(
        name=f"{base}/{quote}",
        defaults={
            "base_asset": base,
            "quote_asset": quote,
            "tick_size": tick_size,
            "step_size": step_size,
            "min_quantity": min_quantity,
            "min_notional": min_notional,
            "maker_fee": maker_fee,
            "taker_fee": taker_fee,
        },
    )
    return symbol
