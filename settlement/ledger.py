"""Posting to the double-entry ledger, with the balances kept in step."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from .models import Balance, LedgerEntry

ZERO = Decimal("0")
AVAILABLE = LedgerEntry.Bucket.AVAILABLE
LOCKED = LedgerEntry.Bucket.LOCKED
EXTERNAL = LedgerEntry.Bucket.EXTERNAL


class UnbalancedPosting(AssertionError):
    """A posting whose lines do not sum to zero for some asset: a code bug."""


@dataclass(frozen=True)
class Line:
    account_id: int
    asset: str
    bucket: str
    amount: Decimal
    leg: str


def post(*, kind: str, reference: str, lines: list[Line]) -> None:
    """Write one balanced posting and apply it to the balances.

    Must run inside a transaction. Balance rows are updated in (user, asset)
    order so concurrent postings never deadlock; their CHECK constraints
    refuse any result below zero. A repeated (reference, leg) raises
    IntegrityError: the caller's claim logic should make that impossible.
    """
    lines = record(kind=kind, reference=reference, lines=lines)
    _apply_to_balances(lines)


def record(*, kind: str, reference: str, lines: list[Line]) -> list[Line]:
    """Write the ledger lines only; the caller has already moved the balances
    (as the conditional UPDATE that locks an order's funds does)."""
    lines = [line for line in lines if line.amount]
    if not lines:
        return lines
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        totals[line.asset] += line.amount
    if any(totals.values()):
        raise UnbalancedPosting(f"{reference}: {dict(totals)}")
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            account_id=line.account_id,
            asset=line.asset,
            bucket=line.bucket,
            amount=line.amount,
            kind=kind,
            reference=reference,
            leg=line.leg,
        )
        for line in lines
    )
    return lines


def _apply_to_balances(lines: list[Line]) -> None:
    deltas: dict[tuple[int, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for line in lines:
        if line.bucket == EXTERNAL:
            continue
        deltas[(line.account_id, line.asset)][0 if line.bucket == AVAILABLE else 1] += line.amount
    deltas = {key: delta for key, delta in deltas.items() if delta != [ZERO, ZERO]}
    if not deltas:
        return
    Balance.objects.bulk_create(
        [Balance(user_id=user_id, asset=asset) for user_id, asset in deltas], ignore_conflicts=True
    )
    now = timezone.now()
    for (user_id, asset), (available, locked) in sorted(deltas.items()):
        Balance.objects.filter(user_id=user_id, asset=asset).update(
            available=F("available") + available, locked=F("locked") + locked, updated_at=now
        )


def move(account_id: int, asset: str, amount: Decimal, *, source: str, target: str, leg: str) -> list[Line]:
    """The two lines that move `amount` between two buckets of one account."""
    return [
        Line(account_id, asset, source, -amount, f"{leg}:from"),
        Line(account_id, asset, target, amount, f"{leg}:to"),
    ]
