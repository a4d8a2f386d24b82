"""Posting to the double-entry ledger, with the balances kept in step."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from core import sql_arrays as arrays

from .models import LedgerEntry

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
    post_many(kind=kind, postings={reference: lines})


def post_many(*, kind: str, postings: dict[str, list[Line]]) -> None:
    """Write many balanced postings (reference -> lines) and apply them to the
    balances, as `post` does for one: one INSERT of every line and three
    balance statements, whatever the number of postings.

    Must run inside a transaction; all postings commit or none does.
    """
    lines = _record_all(kind=kind, postings=postings)
    _apply_to_balances([line for _, line in lines])


def record(*, kind: str, reference: str, lines: list[Line]) -> list[Line]:
    """Write the ledger lines only; the caller has already moved the balances
    (as the conditional UPDATE that locks an order's funds does)."""
    return record_many(kind=kind, postings={reference: lines})


def record_many(*, kind: str, postings: dict[str, list[Line]]) -> list[Line]:
    """`record` for many postings in one INSERT."""
    return [line for _, line in _record_all(kind=kind, postings=postings)]


# One statement for any number of lines: the columns travel as arrays
# (literal text, core.sql_arrays).
INSERT_LINES = """
INSERT INTO settlement_ledgerentry (account_id, asset, bucket, amount, kind, reference, leg, created_at)
SELECT account_id, asset, bucket, amount, %s, reference, leg, %s
FROM unnest(%s::bigint[], %s::varchar[], %s::varchar[], %s::numeric[], %s::varchar[], %s::varchar[])
    AS l(account_id, asset, bucket, amount, reference, leg)
"""


def checked_lines(postings: dict[str, list[Line]]) -> list[tuple[str, Line]]:
    """The non-zero (reference, line) pairs of postings that each balance;
    UnbalancedPosting otherwise."""
    written: list[tuple[str, Line]] = []
    for reference, lines in postings.items():
        lines = [line for line in lines if line.amount]
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for line in lines:
            totals[line.asset] += line.amount
        if any(totals.values()):
            raise UnbalancedPosting(f"{reference}: {dict(totals)}")
        written.extend((reference, line) for line in lines)
    return written


def insert_lines_parameters(kind: str, lines: list[tuple[str, Line]]) -> list:
    """INSERT_LINES' parameters for these (reference, line) pairs."""
    return [
        str(kind),
        timezone.now(),
        arrays.ints(line.account_id for _, line in lines),
        arrays.texts(line.asset for _, line in lines),
        arrays.texts(str(line.bucket) for _, line in lines),
        arrays.decimals(line.amount for _, line in lines),
        arrays.texts(reference for reference, _ in lines),
        arrays.texts(line.leg for _, line in lines),
    ]


def _record_all(*, kind: str, postings: dict[str, list[Line]]) -> list[tuple[str, Line]]:
    """Check that each posting balances, then write all their non-zero lines
    in one INSERT. Returns the (reference, line) pairs written."""
    written = checked_lines(postings)
    if not written:
        return written
    with connection.cursor() as cursor:
        cursor.execute(INSERT_LINES, insert_lines_parameters(kind, written))
    return written


# A CHECK constraint is tested on the proposed row before ON CONFLICT applies,
# so negative deltas cannot travel through an upsert: rows are created
# first, locked in key order (no deadlocks between postings), then updated.
CREATE_MISSING = """
INSERT INTO settlement_balance (user_id, asset, available, locked, updated_at)
VALUES {rows} ON CONFLICT (user_id, asset) DO NOTHING
"""
LOCK_IN_ORDER = """
SELECT 1 FROM settlement_balance WHERE (user_id, asset) IN ({keys})
ORDER BY user_id, asset FOR UPDATE
"""
ADD_DELTAS = """
UPDATE settlement_balance AS b
SET available = b.available + d.available, locked = b.locked + d.locked, updated_at = %s
FROM (VALUES {rows}) AS d(user_id, asset, available, locked)
WHERE b.user_id = d.user_id AND b.asset = d.asset
"""


def _apply_to_balances(lines: list[Line]) -> None:
    """Add the lines to the balances: three statements whatever their number.

    A balance that would go below zero violates its CHECK constraint and the
    whole posting fails.
    """
    deltas: dict[tuple[int, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for line in lines:
        if line.bucket == EXTERNAL:
            continue
        deltas[(line.account_id, line.asset)][0 if line.bucket == AVAILABLE else 1] += line.amount
    rows = sorted((key, delta) for key, delta in deltas.items() if delta != [ZERO, ZERO])
    if not rows:
        return
    now = timezone.now()
    keys = [key for key, _ in rows]
    with connection.cursor() as cursor:
        cursor.execute(
            CREATE_MISSING.format(rows=", ".join(["(%s, %s, 0, 0, %s)"] * len(keys))),
            [value for user_id, asset in keys for value in (user_id, asset, now)],
        )
        cursor.execute(
            LOCK_IN_ORDER.format(keys=", ".join(["(%s, %s)"] * len(keys))),
            [value for key in keys for value in key],
        )
        cursor.execute(
            ADD_DELTAS.format(rows=", ".join(["(%s::bigint, %s::varchar, %s::numeric, %s::numeric)"] * len(rows))),
            [now] + [value for (user_id, asset), (available, locked) in rows for value in (user_id, asset, available, locked)],
        )


def move(account_id: int, asset: str, amount: Decimal, *, source: str, target: str, leg: str) -> list[Line]:
    """The two lines that move `amount` between two buckets of one account."""
    return [
        Line(account_id, asset, source, -amount, f"{leg}:from"),
        Line(account_id, asset, target, amount, f"{leg}:to"),
    ]
