"""The only write path for balances: deposits, order locks and releases.
Every change is a balanced ledger posting."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Iterable

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import ledger
from .errors import DepositReferenceConflict, InsufficientBalance, InvalidAmount
from .ledger import AVAILABLE, EXTERNAL, LOCKED, move
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


def lock_order_funds(*, order_id: int, user_id: int, asset: str, amount: Decimal, leg: str = "lock") -> None:
    """Move an order's funds from available to locked, or raise InsufficientBalance.

    A single conditional UPDATE: two orders racing for the same funds cannot
    both win. Call inside the transaction that writes the order. A later lock
    for the same order (an amend) names its own leg.
    """
    if amount <= 0:
        raise InsufficientBalance(asset=asset, required=str(amount))
    updated = Balance.objects.filter(user_id=user_id, asset=asset, available__gte=amount).update(
        available=F("available") - amount, locked=F("locked") + amount, updated_at=timezone.now()
    )
    if not updated:
        raise InsufficientBalance(asset=asset, required=f"{amount:f}")
    ledger.record(kind=Kind.ORDER_LOCK, reference=f"order:{order_id}", lines=move(user_id, asset, amount, source=AVAILABLE, target=LOCKED, leg=leg))


def release_order_funds(releases: Iterable[tuple[int, int, str, Decimal]], *, leg: str = "release") -> None:
    """Give back what finished orders locked but did not use.

    Each release is (order id, user id, asset, amount). All of them go out
    as one bulk posting (`ledger.post_many`), so a batch costs the same few
    statements however many orders ended. Call inside the matcher's batch
    transaction. A release before the order ends (an amend shrinking it)
    names its own leg.
    """
    postings = {
        f"order:{order_id}": move(user_id, asset, amount, source=LOCKED, target=AVAILABLE, leg=leg)
        for order_id, user_id, asset, amount in releases
        if amount
    }
    ledger.post_many(kind=Kind.ORDER_RELEASE, postings=postings)
