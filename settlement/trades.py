"""Settling trades into the ledger, exactly once each: the work the
settlement tasks do."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from orders.models import Trade

from . import ledger, wallet
from .ledger import AVAILABLE, LOCKED, Line
from .models import LedgerEntry

Kind = LedgerEntry.Kind


def fee_account_id() -> int:
    user, _ = get_user_model().objects.get_or_create(
        username=settings.FEE_ACCOUNT_USERNAME, defaults={"is_active": False}
    )
    return user.id


def trade_lines(buyer_id, seller_id, quantity, quote_quantity, buyer_fee, seller_fee, base, quote, fees_id) -> list[Line]:
    """The six lines of a trade: each side pays from its lock and receives
    the other asset less its fee, which goes to the fee account."""
    return [
        Line(buyer_id, quote, LOCKED, -quote_quantity, "buyer:pays"),
        Line(seller_id, quote, AVAILABLE, quote_quantity - seller_fee, "seller:receives"),
        Line(fees_id, quote, AVAILABLE, seller_fee, "seller:fee"),
        Line(seller_id, base, LOCKED, -quantity, "seller:pays"),
        Line(buyer_id, base, AVAILABLE, quantity - buyer_fee, "buyer:receives"),
        Line(fees_id, base, AVAILABLE, buyer_fee, "buyer:fee"),
    ]


def settle_trade(*, trade_id: int) -> bool:
    """Settle one trade (a batch of one). True if settled now, False if it
    already was."""
    return bool(settle_trades(trade_ids=[trade_id]))


def settle_trades(*, trade_ids: list[int]) -> list[int]:
    """Settle a batch of trades in one transaction. Returns the ids settled
    now; those already SETTLED (or unknown) are skipped, so a duplicate or
    overlapping delivery changes nothing. Any error settles none of them.

    With a wallet service configured, each unsettled trade of the batch is
    first posted to it (one call per trade, under the trade's idempotency
    key), outside any transaction; while the wallet cannot take them this
    raises wallet.WalletUnavailable and the trades stay PENDING. If this
    process dies before the commit below, the next delivery posts them again
    and the wallet records each once.
    """
    trade_ids = sorted(set(trade_ids))
    if wallet.enabled():
        unsettled = Trade.objects.select_related("symbol").filter(id__in=trade_ids).exclude(
            settlement_status=Trade.Settlement.SETTLED
        )
        for trade in unsettled.order_by("id"):
            wallet.post_settlement(trade)
    return _claim_and_post_trades(trade_ids=trade_ids)


# The claim: trades still PENDING or FAILED become SETTLED, locked in id
# order (overlapping batches in two workers queue up instead of deadlocking),
# and come back with what their ledger lines need. A trade a concurrent batch
# settled first fails the status test once its lock is released, and is skipped.
CLAIM = """
UPDATE orders_trade AS t
SET settlement_status = 'SETTLED', settled_at = %s, settlement_error = ''
FROM riskadmin_symbol AS s
WHERE t.id IN (
    SELECT id FROM orders_trade
    WHERE id = ANY(%s) AND settlement_status IN ('PENDING', 'FAILED')
    ORDER BY id FOR UPDATE
) AND t.settlement_status IN ('PENDING', 'FAILED') AND s.id = t.symbol_id
RETURNING t.id, t.buyer_id, t.seller_id, t.quantity, t.quote_quantity, t.buyer_fee, t.seller_fee,
    s.base_asset, s.quote_asset
"""


@transaction.atomic
def _claim_and_post_trades(*, trade_ids: list[int]) -> list[int]:
    """The trades are claimed with one conditional UPDATE in the same
    transaction as their postings (one ledger INSERT, one balance update per
    account and asset): a constant number of statements per batch."""
    if not trade_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(CLAIM, [timezone.now(), trade_ids])
        claimed = sorted(cursor.fetchall())
    if not claimed:
        return []
    fees_id = fee_account_id()
    ledger.post_many(
        kind=Kind.TRADE,
        postings={f"trade:{trade_id}": trade_lines(*row, fees_id) for trade_id, *row in claimed},
    )
    return [row[0] for row in claimed]


def unsettled_trade_ids(*, older_than_seconds: float, limit: int = 10_000) -> list[int]:
    """PENDING trades executed more than `older_than_seconds` ago, oldest first."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    pending = Trade.objects.filter(settlement_status=Trade.Settlement.PENDING, executed_at__lt=cutoff)
    return list(pending.order_by("id").values_list("id", flat=True)[:limit])


def mark_settlement_failed(*, trade_ids: list[int], error: str) -> int:
    """Record that the settlement of these trades gave up retrying (operators
    see them); those settled meanwhile are left alone. Returns how many."""
    return Trade.objects.filter(id__in=trade_ids, settlement_status=Trade.Settlement.PENDING).update(
        settlement_status=Trade.Settlement.FAILED, settlement_error=error[:500]
    )
