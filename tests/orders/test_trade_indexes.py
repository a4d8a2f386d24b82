"""Trades are read by symbol and time (candles, the 24 h ticker): an index
serves that read."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from orders.models import Trade


def test_a_symbols_trades_in_a_time_window_are_read_through_the_index(symbol):
    now = timezone.now()
    window = Trade.objects.filter(symbol=symbol, executed_at__gte=now - timedelta(hours=24), executed_at__lt=now)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the test table is tiny: make the planner show its options
        plan = window.explain()
    assert "trade_symbol_executed_at" in plan
