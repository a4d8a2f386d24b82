"""The hot reads go through indexes that hold live rows only (open orders,
unsettled trades, the hot journal), so they stay small however many orders
have ended and trades settled."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from matching.engine import constants as c
from matching.models import EngineCommand
from orders.models import Order, Trade


def plan(queryset) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the test tables are tiny: make the planner show its options
        return queryset.explain()


@pytest.mark.parametrize(
    ("read", "index"),
    [
        # The matcher's start-up (build_book), the operators' book stats.
        (lambda s, u: Order.objects.filter(symbol=s, status__in=Order.RESTING_STATUSES).order_by("sequence", "id"), "order_resting_by_symbol"),
        # Cancel-all and a user's open orders; reconcile's live locks.
        (lambda s, u: Order.objects.filter(user=u, symbol=s, status__in=Order.LIVE_STATUSES).order_by(), "order_live_by_user"),
        (lambda s, u: Order.objects.filter(status__in=Order.LIVE_STATUSES).values("user_id", "locked_asset"), "order_live_by_user"),
        # The matcher's start-up re-queues unsettled trades; the sweeper; reconcile.
        (lambda s, u: Trade.objects.filter(symbol_id__in=[s.id], settlement_status=Trade.Settlement.PENDING), "trade_unsettled"),
        (lambda s, u: Trade.objects.filter(settlement_status=Trade.Settlement.PENDING, executed_at__lt=timezone.now()), "trade_unsettled"),
        (lambda s, u: Trade.objects.filter(settlement_status__in=("PENDING", "FAILED")), "trade_unsettled"),
        # verify_book and archiving read the processed journal after a checkpoint.
        (lambda s, u: EngineCommand.objects.filter(symbol=s, processed_at__isnull=False, processed_at__gt=timezone.now()).order_by("processed_at", "id"), "command_processed"),
    ],
)
def test_hot_reads_use_indexes_on_live_rows(symbol, alice, read, index):
    assert index in plan(read(symbol, alice))


def test_no_index_covers_every_order_status_or_settlement_status():
    assert not Order._meta.get_field("status").db_index
    assert not Trade._meta.get_field("settlement_status").db_index
    assert c.PENDING in Order.LIVE_STATUSES
