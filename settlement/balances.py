"""The only write path for balances: deposits, order locks and releases.
Every change is a balanced ledger posting."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Iterable

from django.db import connection, transaction
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


AVAILABLE_FOR_UPDATE = """
SELECT user_id, asset, available FROM settlement_balance
WHERE (user_id, asset) IN (SELECT * FROM unnest(%s::bigint[], %s::varchar[]))
ORDER BY user_id, asset FOR UPDATE
"""
# The balances move and the ledger records it in one statement. Rows exist:
# the caller read them with available_many_for_update and moves no more than
# that; the CHECK constraints stay the last word.
LOCK_AND_RECORD = f"""
WITH moved AS (
    UPDATE settlement_balance AS b
    SET available = b.available - d.amount, locked = b.locked + d.amount, updated_at = %s
    FROM unnest(%s::bigint[], %s::varchar[], %s::numeric[]) AS d(user_id, asset, amount)
    WHERE b.user_id = d.user_id AND b.asset = d.asset
    RETURNING 1
)
{ledger.INSERT_LINES}
RETURNING (SELECT count(*) FROM moved)
"""


def available_many_for_update(keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Decimal]:
    """Available balances by (user id, asset), row-locked in key order until
    the transaction ends (one statement); a missing row is absent."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(AVAILABLE_FOR_UPDATE, [[k[0] for k in keys], [k[1] for k in keys]])
        return {(user_id, asset): available for user_id, asset, available in cursor.fetchall()}


def lock_many(locks: Iterable[tuple[int, int, str, Decimal]], *, leg: str = "lock") -> None:
    """Move many orders' funds from available to locked: (order id, user id,
    asset, amount) each, one statement in all.

    The caller has read and row-locked the balances
    (available_many_for_update) and asks for no more than they hold.
    """
    locks = [lock for lock in locks if lock[3]]
    if not locks:
        return
    totals: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for _, user_id, asset, amount in locks:
        totals[(user_id, asset)] += amount
    keys = sorted(totals)
    lines = ledger.checked_lines({
        f"order:{order_id}": move(user_id, asset, amount, source=AVAILABLE, target=LOCKED, leg=leg)
        for order_id, user_id, asset, amount in locks
    })
    with connection.cursor() as cursor:
        cursor.execute(LOCK_AND_RECORD, [
            timezone.now(), [k[0] for k in keys], [k[1] for k in keys], [totals[k] for k in keys],
            *ledger.insert_lines_parameters(Kind.ORDER_LOCK, lines),
        ])
        moved = cursor.fetchone()[0]
    if moved != len(keys):
        raise AssertionError(f"{len(keys)} balances to lock funds in, {moved} found")


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
