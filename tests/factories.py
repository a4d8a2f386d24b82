"""Small factories for database-backed tests."""

from __future__ import annotations

import itertools
from decimal import Decimal

from django.contrib.auth import get_user_model

from orders.services import place_order
from orders.validation import OrderRequest
from riskadmin.models import Symbol
from riskadmin.services import upsert_symbol
from settlement.balances import deposit

_names = itertools.count(1)


def make_symbol(name: str = "BTC/USDT", **overrides) -> Symbol:
    spec = {
        "tick_size": Decimal("0.01"),
        "step_size": Decimal("0.001"),
        "min_quantity": Decimal("0.001"),
        "min_notional": Decimal("1"),
        "maker_fee": Decimal("0.001"),
        "taker_fee": Decimal("0.002"),
    }
    spec.update(overrides)
    return upsert_symbol(name=name, **spec)


def make_user(username: str | None = None, *, password: str = "pass-word-123", is_staff: bool = False, funds: dict | None = None):
    user = get_user_model().objects.create_user(
        username=username or f"trader{next(_names)}", password=password, is_staff=is_staff
    )
    for asset, amount in (funds or {}).items():
        deposit(user_id=user.id, asset=asset, amount=Decimal(amount))
    return user


def order_request(symbol: Symbol, side: str, quantity: str, price: str | None = None, **fields) -> OrderRequest:
    for name in ("stop_price", "quote_order_qty"):
        if fields.get(name) is not None:
            fields[name] = Decimal(fields[name])
    fields.setdefault("type", "LIMIT" if price is not None else "MARKET")
    return OrderRequest(
        symbol=symbol,
        side=side,
        quantity=Decimal(quantity),
        price=None if price is None else Decimal(price),
        **fields,
    )


def place(user, symbol: Symbol, side: str, quantity: str, price: str | None = None, **fields):
    """Place through the real service; returns the Order row."""
    order, _ = place_order(user=user, request=order_request(symbol, side, quantity, price, **fields))
    return order
