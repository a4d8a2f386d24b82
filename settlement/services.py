"""The only write path for balances: deposits, order locks and releases,
trade settlement. Every change is a balanced ledger posting."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import ledger
from .errors import DepositReferenceConflict, InsufficientBalance, InvalidAmount
from .ledger import AVAILABLE, EXTERNAL, LOCKED, Line, move
from .models import Balance, LedgerEntry

Kind = LedgerEntry.Kind


@transaction.atomic
def deposit(*, user_id: int, asset: str, amount: Decimal, reference: str = "") -> Balance:
    """Credit an external deposit to a user's available balance.

    `reference` (e.g. the wallet's transaction id) makes a repeated call a
    no-op; without one, every call is a new deposit. Reusing a reference for
    a different user, asset or amount raises DepositReferenceConflict.
    """
    if not amount.is_finite() or amount <= 0:
        raise InvalidAmount(amount=str(amount))
    asset = asset.upper()
    reference = f"deposit:{reference or uuid.uuid4().hex}"
    credited = LedgerEntry.objects.filter(reference=reference, bucket=AVAILABLE).values_list("account_id", "asset", "amount").first()
    if credited is None:
        ledger.post(kind=Kind.DEPOSIT, reference=reference, lines=move(user_id, asset, amount, source=EXTERNAL, target=AVAILABLE, leg="deposit"))
    elif credited != (user_id, asset, amount):
        raise DepositReferenceConflict(reference=reference.removeprefix("deposit:"))
    return Balance.objects.get(user_id=user_id, asset=asset)


def available_for_update(*, user_id: int, asset: str) -> Decimal:
    """The available balance, row-locked until the transaction ends."""
    balance = Balance.objects.select_for_update().filter(user_id=user_id, asset=asset).first()
    return Decimal("0") if balance is None else balance.available


def lock_order_funds(*, order_id: int, user_id: int, asset: str, amount: Decimal) -> None:
    """Move an order's funds from available to locked, or raise InsufficientBalance.

    A single conditional UPDATE: two orders racing for the same funds cannot
    both win. Call inside the transaction that writes the order.
    """
    if amount <= 0:
        raise InsufficientBalance(asset=asset, required=str(amount))
    updated = Balance.objects.filter(user_id=user_id, asset=asset, available__gte=amount).update(
        available=F("available") - amount, locked=F("locked") + amount, updated_at=timezone.now()
    )
    if not updated:
        raise InsufficientBalance(asset=asset, required=f"{amount:f}")
    ledger.record(kind=Kind.ORDER_LOCK, reference=f"order:{order_id}", lines=move(user_id, asset, amount, source=AVAILABLE, target=LOCKED, leg="lock"))


def release_order_funds(releases: Iterable[tuple[int, int, str, Decimal]]) -> None:
    """Give back what finished orders locked but did not use.

    Each release is (order id, user id, asset, amount). Call inside the
    matcher's batch transaction.
    """
    for order_id, user_id, asset, amount in releases:
        if amount:
            ledger.post(kind=Kind.ORDER_RELEASE, reference=f"order:{order_id}", lines=move(user_id, asset, amount, source=LOCKED, target=AVAILABLE, leg="release"))


def fee_account_id() -> int:
    user, _ = get_user_model().objects.get_or_create(
        username=settings.FEE_ACCOUNT_USERNAME, defaults={"is_active": False}
    )
    return user.id


def trade_lines(trade, fees_id: int) -> list[Line]:
    """The six lines of a trade: each side pays from its lock and receives
    the other asset less its fee, which goes to the fee account."""
    base, quote = trade.symbol.base_asset, trade.symbol.quote_asset
    return [
        Line(trade.buyer_id, quote, LOCKED, -trade.quote_quantity, "buyer:pays"),
        Line(trade.seller_id, quote, AVAILABLE, trade.quote_quantity - trade.seller_fee, "seller:receives"),
        Line(fees_id, quote, AVAILABLE, trade.seller_fee, "seller:fee"),
        Line(trade.seller_id, base, LOCKED, -trade.quantity, "seller:pays"),
        Line(trade.buyer_id, base, AVAILABLE, trade.quantity - trade.buyer_fee, "buyer:receives"),
        Line(fees_id, base, AVAILABLE, trade.buyer_fee, "buyer:fee"),
    ]


def settle_trade(*, trade_id: int) -> bool:
    """Settle one trade. True if settled now, False if it already was.

    With a wallet service configured, the trade is first posted to it, outside
    any transaction; while the wallet cannot take it this raises
    wallet.WalletUnavailable and the trade stays PENDING. The posting carries
    the trade's idempotency key, so if this process dies before the commit
    below, the next delivery posts it again and the wallet records it once.
    """
    from orders.models import Trade

    from . import wallet

    if wallet.enabled():
        trade = Trade.objects.select_related("symbol").exclude(settlement_status=Trade.Settlement.SETTLED).filter(id=trade_id).first()
        if trade is None:
            return False
        wallet.post_settlement(trade)
    return _claim_and_post_trade(trade_id=trade_id)


@transaction.atomic
def _claim_and_post_trade(*, trade_id: int) -> bool:
    """The trade is claimed with a conditional UPDATE in the same transaction
    as the posting, so a duplicate delivery of the task changes nothing."""
    from orders.models import Trade

    claimed = Trade.objects.filter(
        id=trade_id, settlement_status__in=(Trade.Settlement.PENDING, Trade.Settlement.FAILED)
    ).update(settlement_status=Trade.Settlement.SETTLED, settled_at=timezone.now(), settlement_error="")
    if not claimed:
        return False
    trade = Trade.objects.select_related("symbol").get(id=trade_id)
    ledger.post(kind=Kind.TRADE, reference=f"trade:{trade.id}", lines=trade_lines(trade, fee_account_id()))
    return True


def unsettled_trade_ids(*, older_than_seconds: float, limit: int = 10_000) -> list[int]:
    """PENDING trades executed more than `older_than_seconds` ago, oldest first."""
    from orders.models import Trade

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    pending = Trade.objects.filter(settlement_status=Trade.Settlement.PENDING, executed_at__lt=cutoff)
    return list(pending.order_by("id").values_list("id", flat=True)[:limit])


def retry_failed_settlements(*, trade_ids: Iterable[int]) -> int:
    """Put FAILED trades back to PENDING and queue them again (operator action)."""
    from orders.models import Trade

    from .tasks import settle_trade

    ids = list(
        Trade.objects.filter(id__in=list(trade_ids), settlement_status=Trade.Settlement.FAILED).values_list("id", flat=True)
    )
    Trade.objects.filter(id__in=ids, settlement_status=Trade.Settlement.FAILED).update(
        settlement_status=Trade.Settlement.PENDING, settlement_error=""
    )
    for trade_id in ids:
        transaction.on_commit(lambda trade_id=trade_id: settle_trade.delay(trade_id))
    return len(ids)


def mark_settlement_failed(*, trade_id: int, error: str) -> bool:
    """Record that a trade's settlement gave up retrying (operators see it)."""
    from orders.models import Trade

    return bool(
        Trade.objects.filter(id=trade_id, settlement_status=Trade.Settlement.PENDING).update(
            settlement_status=Trade.Settlement.FAILED, settlement_error=error[:500]
        )
    )
