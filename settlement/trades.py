"""Settling trades into the ledger, exactly once each: the work the
settlement tasks do."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
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
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    pending = Trade.objects.filter(settlement_status=Trade.Settlement.PENDING, executed_at__lt=cutoff)
    return list(pending.order_by("id").values_list("id", flat=True)[:limit])


def mark_settlement_failed(*, trade_id: int, error: str) -> bool:
    """Record that a trade's settlement gave up retrying (operators see it)."""
    return bool(
        Trade.objects.filter(id=trade_id, settlement_status=Trade.Settlement.PENDING).update(
            settlement_status=Trade.Settlement.FAILED, settlement_error=error[:500]
        )
    )
