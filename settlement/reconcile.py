"""Reconciliation: the money invariants, checked against the database.

Each check is one aggregate SQL query and returns the rows that break it, so
the cost does not depend on Python looping over balances or ledger lines. The
checks only read; `run_all` takes one snapshot (REPEATABLE READ, READ ONLY)
when it is not already inside a transaction, so a report never mixes states
from before and after a concurrent settlement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

from django.db import connection, transaction

from matching.engine import constants as c
from orders.models import Order, Trade
from riskadmin.models import Symbol

from .models import Balance, LedgerEntry

LIVE_STATUSES = (c.PENDING, c.UNTRIGGERED, c.OPEN, c.PARTIALLY_FILLED)
UNSETTLED = ("PENDING", "FAILED")


@dataclass
class CheckResult:
    name: str
    description: str
    checked: int
    mismatches: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _rows(sql: str, params: list | tuple = ()) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def _tables() -> dict[str, str]:
    return {
        "balance": Balance._meta.db_table,
        "ledger": LedgerEntry._meta.db_table,
        "order": Order._meta.db_table,
        "trade": Trade._meta.db_table,
        "symbol": Symbol._meta.db_table,
    }


def asset_conservation() -> CheckResult:
    """Per asset, all balances (fee account included) add up to deposits less
    withdrawals: minus the sum of the EXTERNAL ledger lines."""
    t = _tables()
    rows = _rows(
        f"""
        WITH held AS (
            SELECT asset, SUM(available + locked) AS total FROM {t['balance']} GROUP BY asset
        ), outside AS (
            SELECT asset, -SUM(amount) AS total FROM {t['ledger']} WHERE bucket = %s GROUP BY asset
        )
        SELECT COALESCE(held.asset, outside.asset) AS asset,
               COALESCE(held.total, 0) AS balances,
               COALESCE(outside.total, 0) AS deposited
        FROM held FULL OUTER JOIN outside ON held.asset = outside.asset
        ORDER BY 1
        """,
        [LedgerEntry.Bucket.EXTERNAL],
    )
    return CheckResult(
        "asset_conservation",
        "per asset: sum of balances == deposits - withdrawals",
        len(rows),
        [row for row in rows if row["balances"] != row["deposited"]],
    )


def balances_match_ledger() -> CheckResult:
    """Every balance row equals the sum of its account's AVAILABLE and LOCKED lines."""
    t = _tables()
    rows = _rows(
        f"""
        WITH lines AS (
            SELECT account_id AS user_id, asset,
                   COALESCE(SUM(amount) FILTER (WHERE bucket = %s), 0) AS available,
                   COALESCE(SUM(amount) FILTER (WHERE bucket = %s), 0) AS locked
            FROM {t['ledger']} WHERE bucket IN (%s, %s)
            GROUP BY account_id, asset
        )
        SELECT COALESCE(b.user_id, l.user_id) AS user_id, COALESCE(b.asset, l.asset) AS asset,
               b.available AS available, COALESCE(l.available, 0) AS ledger_available,
               b.locked AS locked, COALESCE(l.locked, 0) AS ledger_locked,
               (b.available IS DISTINCT FROM COALESCE(l.available, 0)
                OR b.locked IS DISTINCT FROM COALESCE(l.locked, 0)) AS differs
        FROM {t['balance']} b FULL OUTER JOIN lines l ON b.user_id = l.user_id AND b.asset = l.asset
        """,
        [LedgerEntry.Bucket.AVAILABLE, LedgerEntry.Bucket.LOCKED] * 2,
    )
    # A ledger account with no balance row is fine only while its lines sum to zero.
    mismatches = [
        {key: value for key, value in row.items() if key != "differs"}
        for row in rows
        if row["differs"] and not (row["available"] is None and not row["ledger_available"] and not row["ledger_locked"])
    ]
    return CheckResult("balances_match_ledger", "each balance == sum of its ledger lines per bucket", len(rows), mismatches)


def no_negative_balances() -> CheckResult:
    t = _tables()
    checked = _rows(f"SELECT COUNT(*) AS n FROM {t['balance']}")[0]["n"]
    rows = _rows(
        f"SELECT user_id, asset, available, locked FROM {t['balance']} "
        "WHERE available < 0 OR locked < 0 ORDER BY user_id, asset"
    )
    return CheckResult("no_negative_balances", "no available or locked amount below zero", checked, rows)


def postings_balance() -> CheckResult:
    """Every posting (all lines of one reference) sums to zero per asset."""
    t = _tables()
    checked = _rows(f"SELECT COUNT(DISTINCT reference) AS n FROM {t['ledger']}")[0]["n"]
    rows = _rows(
        f"""
        SELECT reference, asset, SUM(amount) AS total FROM {t['ledger']}
        GROUP BY reference, asset HAVING SUM(amount) <> 0 ORDER BY reference, asset
        """
    )
    return CheckResult("postings_balance", "every posting sums to zero per asset", checked, rows)


def locks_match_orders() -> CheckResult:
    """Per user and asset, locked == what live orders still hold plus what
    unsettled trades still owe from their orders' locks.

    A live order holds locked_amount less what its fills used (the quote a buy
    spent, the quantity a sell delivered). A PENDING or FAILED trade still owes
    the buyer's quote_quantity of the quote asset and the seller's quantity of
    the base asset.
    """
    t = _tables()
    statuses = ", ".join(["%s"] * len(LIVE_STATUSES))
    unsettled = ", ".join(["%s"] * len(UNSETTLED))
    rows = _rows(
        f"""
        WITH owed AS (
            SELECT user_id, locked_asset AS asset,
                   locked_amount - CASE WHEN side = %s THEN executed_quote ELSE filled_quantity END AS amount
            FROM {t['order']} WHERE status IN ({statuses})
            UNION ALL
            SELECT tr.buyer_id, s.quote_asset, tr.quote_quantity
            FROM {t['trade']} tr JOIN {t['symbol']} s ON s.id = tr.symbol_id
            WHERE tr.settlement_status IN ({unsettled})
            UNION ALL
            SELECT tr.seller_id, s.base_asset, tr.quantity
            FROM {t['trade']} tr JOIN {t['symbol']} s ON s.id = tr.symbol_id
            WHERE tr.settlement_status IN ({unsettled})
        ), expected AS (
            SELECT user_id, asset, SUM(amount) AS amount FROM owed GROUP BY user_id, asset
        )
        SELECT COALESCE(b.user_id, e.user_id) AS user_id, COALESCE(b.asset, e.asset) AS asset,
               COALESCE(b.locked, 0) AS locked, COALESCE(e.amount, 0) AS expected
        FROM {t['balance']} b FULL OUTER JOIN expected e ON b.user_id = e.user_id AND b.asset = e.asset
        """,
        [c.BUY, *LIVE_STATUSES, *UNSETTLED, *UNSETTLED],
    )
    return CheckResult(
        "locks_match_orders",
        "locked == live orders' unused locks + what unsettled trades owe",
        len(rows),
        [row for row in rows if row["locked"] != row["expected"]],
    )


CHECKS: list[Callable[[], CheckResult]] = [
    asset_conservation,
    balances_match_ledger,
    no_negative_balances,
    postings_balance,
    locks_match_orders,
]


def run_all() -> list[CheckResult]:
    """Run every check on one consistent snapshot of the database."""
    if connection.in_atomic_block:
        return [check() for check in CHECKS]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return [check() for check in CHECKS]


def format_amount(value: object) -> str:
    return f"{value:f}" if isinstance(value, Decimal) else str(value)
