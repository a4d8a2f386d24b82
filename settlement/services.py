"""The only write path for balances: deposits, locks, releases, settlement."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .errors import InsufficientBalance, InvalidAmount
from .models import Balance

ZERO = Decimal("0")


def _ensure_rows(keys: Iterable[tuple[int, str]]) -> None:
    Balance.objects.bulk_create(
        [Balance(user_id=user_id, asset=asset) for user_id, asset in keys],
        ignore_conflicts=True,
    )


def apply_balance_changes(changes: dict[tuple[int, str], tuple[Decimal, Decimal]]) -> None:
    """Add (available, locked) deltas per (user id, asset).

    Rows are updated in key order so concurrent callers never deadlock; the
    database's CHECK constraints refuse any change that would go negative.
    """
    changes = {key: delta for key, delta in changes.items() if delta != (ZERO, ZERO)}
    if not changes:
        return
    _ensure_rows(changes)
    for (user_id, asset), (available, locked) in sorted(changes.items()):
        Balance.objects.filter(user_id=user_id, asset=asset).update(
            available=F("available") + available,
            locked=F("locked") + locked,
            updated_at=timezone.now(),
        )


@transaction.atomic
def deposit(*, user_id: int, asset: str, amount: Decimal) -> Balance:
    """Credit an external deposit to a user's available balance."""
    if amount <= 0:
        raise InvalidAmount(amount=str(amount))
    apply_balance_changes({(user_id, asset): (amount, ZERO)})
    return Balance.objects.get(user_id=user_id, asset=asset)


def lock_funds(*, user_id: int, asset: str, amount: Decimal) -> None:
    """Move `amount` from available to locked, or raise InsufficientBalance.

    A single conditional UPDATE: two orders racing for the same funds cannot
    both win. Call inside the transaction that writes the order.
    """
    if amount <= 0:
        raise InvalidAmount(amount=str(amount))
    updated = Balance.objects.filter(user_id=user_id, asset=asset, available__gte=amount).update(
        available=F("available") - amount, locked=F("locked") + amount, updated_at=timezone.now()
    )
    if not updated:
        raise InsufficientBalance(asset=asset, required=str(amount))


def lock_all_available(*, user_id: int, asset: str) -> Decimal:
    """Lock the whole available balance of an asset (a market buy's budget)."""
    balance = Balance.objects.select_for_update().filter(user_id=user_id, asset=asset).first()
    if balance is None or balance.available <= 0:
        raise InsufficientBalance(asset=asset, required="more than 0")
    amount = balance.available
    lock_funds(user_id=user_id, asset=asset, amount=amount)
    return amount


def release_funds(releases: Iterable[tuple[int, str, Decimal]]) -> None:
    """Give locked funds back to available: (user id, asset, amount) each."""
    changes: dict[tuple[int, str], tuple[Decimal, Decimal]] = defaultdict(lambda: (ZERO, ZERO))
    for user_id, asset, amount in releases:
        if amount:
            available, locked = changes[(user_id, asset)]
            changes[(user_id, asset)] = (available + amount, locked - amount)
    apply_balance_changes(changes)


def fee_account_id() -> int:
    user, _ = get_user_model().objects.get_or_create(
        username=settings.FEE_ACCOUNT_USERNAME, defaults={"is_active": False}
    )
    return user.id


@transaction.atomic
def settle_trade(*, trade_id: int) -> bool:
    """Move the funds of one trade. True if settled now, False if it already was.

    The trade is claimed with a conditional UPDATE, so a duplicate delivery
    of the same task changes nothing.
    """
    from orders.models import Trade

    claimed = Trade.objects.filter(id=trade_id, settlement_status=Trade.Settlement.PENDING).update(
        settlement_status=Trade.Settlement.SETTLED, settled_at=timezone.now()
    )
    if not claimed:
        return False
    trade = Trade.objects.select_related("symbol").get(id=trade_id)
    base, quote = trade.symbol.base_asset, trade.symbol.quote_asset
    changes: dict[tuple[int, str], tuple[Decimal, Decimal]] = defaultdict(lambda: (ZERO, ZERO))

    def add(user_id: int, asset: str, available: Decimal = ZERO, locked: Decimal = ZERO) -> None:
        old_available, old_locked = changes[(user_id, asset)]
        changes[(user_id, asset)] = (old_available + available, old_locked + locked)

    add(trade.buyer_id, quote, locked=-trade.quote_quantity)
    add(trade.buyer_id, base, available=trade.quantity - trade.buyer_fee)
    add(trade.seller_id, base, locked=-trade.quantity)
    add(trade.seller_id, quote, available=trade.quote_quantity - trade.seller_fee)
    fees_id = fee_account_id()
    add(fees_id, base, available=trade.buyer_fee)
    add(fees_id, quote, available=trade.seller_fee)
    apply_balance_changes(changes)
    return True
