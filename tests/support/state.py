"""What the trading tables hold, read for assertions: a user's balance, the
fee account, everything an order request may write."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model

from matching.models import EngineCommand
from orders.models import Fill, Order, Trade
from settlement.models import Balance


def balance(user, asset: str) -> tuple[Decimal, Decimal]:
    """(available, locked) of one asset; (0, 0) when the user never held it."""
    row = Balance.objects.filter(user=user, asset=asset).first()
    if row is None:
        return Decimal("0"), Decimal("0")
    return row.available, row.locked


def fee_account():
    return get_user_model().objects.get(username="fees")


def snapshot() -> dict:
    """Everything an order request may write, to prove a refusal wrote nothing."""
    return {
        "orders": list(Order.objects.values_list("id", "status").order_by("id")),
        "commands": list(EngineCommand.objects.values_list("id", "kind", "order_id").order_by("id")),
        "trades": Trade.objects.count(),
        "fills": Fill.objects.count(),
        "balances": list(
            Balance.objects.values_list("user_id", "asset", "available", "locked").order_by("user_id", "asset")
        ),
    }
