"""The hot reads go through indexes that hold live rows only (open orders,
unsettled trades, the hot journal), so they stay small however many orders
have ended and trades settled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from matching.engine import constants as c
from matching.models import EngineCommand
from orders.models import Order, Trade


ENDED = 5000

HISTORY = """
INSERT INTO orders_order (user_id, symbol_id, client_order_id, side, type, time_in_force, post_only,
    self_trade_prevention, price, quantity, filled_quantity, executed_quote, locked_asset, locked_amount,
    status, reject_reason, cancel_reason, triggered, sequence, created_at, updated_at)
SELECT %(user)s, %(symbol)s, '', 'BUY', 'LIMIT', 'GTC', false, 'CANCEL_TAKER', 100, 1, 1, 100, 'USDT', 100,
    'FILLED', '', '', false, k, now(), now()
FROM generate_series(1, %(n)s) AS k;
INSERT INTO orders_trade (symbol_id, sequence, price, quantity, quote_quantity, taker_side, maker_order_id,
    taker_order_id, buyer_id, seller_id, buyer_fee, seller_fee, executed_at, settlement_status, settlement_error)
SELECT %(symbol)s, o.id, 100, 1, 100, 'BUY', o.id, o.id, %(user)s, %(user)s, 0, 0, now(), 'SETTLED', ''
FROM orders_order AS o;
INSERT INTO matching_enginecommand (symbol_id, kind, order_id, reason, created_at, processed_at)
SELECT %(symbol)s, 'PLACE', o.id, '', now() - interval '1 day', now() - interval '1 day' FROM orders_order AS o;
ANALYZE orders_order, orders_trade, matching_enginecommand
"""


def with_ended_history(symbol, user) -> None:
    """Many filled orders, settled trades and old processed commands, as a venue has."""
    with connection.cursor() as cursor:
        for statement in HISTORY.split(";\n"):
            cursor.execute(statement, {"user": user.id, "symbol": symbol.id, "n": ENDED})


def plan(queryset) -> str:
    return queryset.explain()


@pytest.mark.parametrize(
    ("read", "index"),
    [
        # Cancel-all and a user's open orders; reconcile's live locks.
        (lambda s, u: Order.objects.filter(user=u, symbol=s, status__in=Order.LIVE_STATUSES).order_by("id"), "order_live_by_user"),
        (lambda s, u: Order.objects.filter(status__in=Order.LIVE_STATUSES).values("user_id", "locked_asset"), "order_live_by_user"),
        # The matcher's start-up re-queues unsettled trades; the sweeper; reconcile.
        (lambda s, u: Trade.objects.filter(symbol_id__in=[s.id], settlement_status=Trade.Settlement.PENDING), "trade_unsettled"),
        (lambda s, u: Trade.objects.filter(settlement_status=Trade.Settlement.PENDING, executed_at__lt=timezone.now()), "trade_unsettled"),
        (lambda s, u: Trade.objects.filter(settlement_status__in=("PENDING", "FAILED")), "trade_unsettled"),
        # verify_book and archiving read the processed journal after a checkpoint.
        (lambda s, u: EngineCommand.objects.filter(symbol=s, processed_at__isnull=False, processed_at__gt=timezone.now() - timedelta(hours=1)).order_by("processed_at", "id"), "command_processed"),
    ],
)
def test_hot_reads_use_indexes_on_live_rows(symbol, alice, read, index):
    with_ended_history(symbol, alice)
    assert index in plan(read(symbol, alice))


def test_no_index_covers_every_order_status_or_settlement_status():
    assert not Order._meta.get_field("status").db_index
    assert not Trade._meta.get_field("settlement_status").db_index
    assert c.PENDING in Order.LIVE_STATUSES
