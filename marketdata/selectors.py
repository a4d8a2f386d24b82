"""Reads of public market data: order book, trades, ticker, candles, and
WebSocket connection statistics."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from decimal import Decimal

import redis
from django.db import connection
from django.db.models import Count, F, Max, Min, Sum
from django.utils import timezone

from core.api.fields import plain
from core.redis import get_redis
from matching.engine import constants as c
from matching.models import MatcherState
from orders.models import Order, Trade
from riskadmin.models import Symbol

from . import keys, render
from .aggregates import Bucket, MinuteBuckets
from .streams import INTERVALS

log = logging.getLogger(__name__)

MAX_DEPTH = 500  # levels the matcher's snapshot holds per side
MAX_BOOK_DEPTH = 5000  # deeper than the snapshot: read from the database
MAX_CANDLES = 1000
DEFAULT_CANDLES = 500

CANDLES_SQL = """
    SELECT date_bin(%(step)s::interval, executed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS open_time,
           (array_agg(price ORDER BY sequence))[1] AS open,
           max(price) AS high,
           min(price) AS low,
           (array_agg(price ORDER BY sequence DESC))[1] AS close,
           sum(quantity) AS volume,
           sum(quote_quantity) AS quote_volume,
           count(*) AS trades,
           coalesce(sum(quantity) FILTER (WHERE taker_side = 'BUY'), 0) AS taker_buy_volume,
           coalesce(sum(quote_quantity) FILTER (WHERE taker_side = 'BUY'), 0) AS taker_buy_quote_volume
      FROM orders_trade
     WHERE symbol_id = %(symbol_id)s AND executed_at >= %(start)s AND executed_at < %(end)s
  GROUP BY 1
  ORDER BY 1 DESC
     LIMIT %(limit)s
"""


def order_book(*, symbol: Symbol, depth: int = 50) -> dict:
    """{symbol, sequence, bids, asks}: the matcher's snapshot from Redis, or,
    if it is missing or holds fewer levels than asked for (it keeps
    MAX_DEPTH), the resting orders in the database."""
    depth = max(1, min(depth, MAX_BOOK_DEPTH))
    snapshot = book_snapshot(symbol)
    if snapshot is not None and depth > MAX_DEPTH and MAX_DEPTH in (len(snapshot["bids"]), len(snapshot["asks"])):
        snapshot = None
    if snapshot is None:
        snapshot = _book_from_database(symbol, depth)
    return {**snapshot, "bids": snapshot["bids"][:depth], "asks": snapshot["asks"][:depth]}


def book_snapshot(symbol: Symbol) -> dict | None:
    try:
        raw = get_redis().get(keys.book_snapshot_key(symbol.name))
    except redis.RedisError as exc:
        log.warning("order book snapshot unavailable: %s", exc)
        return None
    return None if raw is None else json.loads(raw)


def _book_from_database(symbol: Symbol, depth: int) -> dict:
    # The matcher writes the orders and the book sequence in one transaction;
    # reading the sequence before and after catches a batch committed between.
    for _ in range(5):
        sequence = book_sequence(symbol)
        resting = Order.objects.filter(symbol=symbol, status__in=(c.OPEN, c.PARTIALLY_FILLED), price__isnull=False)
        levels = resting.values("side", "price").annotate(lots=Sum(F("quantity") - F("filled_quantity")))
        bids = levels.filter(side=c.BUY).order_by("-price")[:depth]
        asks = levels.filter(side=c.SELL).order_by("price")[:depth]
        bids, asks = list(bids), list(asks)
        if book_sequence(symbol) == sequence:
            break
    pp, qp = symbol.scale.price_places, symbol.scale.quantity_places
    return {
        "symbol": symbol.name,
        "sequence": sequence,
        "bids": [[plain(row["price"], pp), plain(row["lots"], qp)] for row in bids],
        "asks": [[plain(row["price"], pp), plain(row["lots"], qp)] for row in asks],
    }


def book_sequence(symbol: Symbol) -> int:
    return MatcherState.objects.filter(symbol=symbol).values_list("book_sequence", flat=True).first() or 0


def last_trade_sequence(symbol: Symbol) -> int:
    return Trade.objects.filter(symbol=symbol).aggregate(top=Max("sequence"))["top"] or 0


def recent_trades(*, symbol: Symbol, limit: int = 100) -> list[dict]:
    """Newest first."""
    rows = Trade.objects.filter(symbol=symbol).order_by("-sequence").values(
        "id", "price", "quantity", "taker_side", "executed_at"
    )[:limit]
    return [render.trade(symbol.scale, row) for row in rows]


def trades(*, symbol: Symbol, from_id: int | None = None, start: datetime | None = None, end: datetime | None = None,
           limit: int = 500) -> list[dict]:
    """Oldest first: from trade `from_id` on, or executed in [start, end);
    with neither `from_id` nor `start`, the newest `limit` trades."""
    rows = Trade.objects.filter(symbol=symbol)
    if from_id is not None:
        rows = rows.filter(id__gte=from_id)
    if start is not None:
        rows = rows.filter(executed_at__gte=start)
    if end is not None:
        rows = rows.filter(executed_at__lt=end)
    fields = ("id", "price", "quantity", "taker_side", "executed_at")
    if from_id is None and start is None:
        found = list(reversed(rows.order_by("-sequence").values(*fields)[:limit]))
    else:
        found = list(rows.order_by("sequence").values(*fields)[:limit])
    return [render.trade(symbol.scale, row) for row in found]


def trade_window(*, symbol: Symbol, start: datetime, end: datetime) -> dict:
    """Of the trades executed in (start, end], the ticker's window: the first
    and last trade ids, their count; and the last price before the window."""
    window = Trade.objects.filter(symbol=symbol, executed_at__gt=start, executed_at__lte=end)
    totals = window.aggregate(first_id=Min("id"), last_id=Max("id"), count=Count("id"))
    before = Trade.objects.filter(symbol=symbol, executed_at__lte=start).order_by("-sequence").values_list("price", flat=True).first()
    return {**totals, "previous_price": render.decimal_or_none(before, symbol.scale.price_places)}


def ticker(*, symbol: Symbol, now: datetime | None = None) -> dict:
    """24 hours rolling, from the trades table; best bid and ask from the book."""
    now = now or timezone.now()
    window = Trade.objects.filter(symbol=symbol, executed_at__gt=now - timedelta(hours=24), executed_at__lte=now)
    totals = window.aggregate(high=Max("price"), low=Min("price"), volume=Sum("quantity"), quote=Sum("quote_quantity"))
    opening = window.order_by("sequence").values_list("price", flat=True).first()
    last = Trade.objects.filter(symbol=symbol).order_by("-sequence").values_list("price", flat=True).first()
    book = order_book(symbol=symbol, depth=1)
    stats = None
    if opening is not None:
        stats = Bucket(opening, totals["high"], totals["low"], last, totals["volume"], totals["quote"])
    return ticker_body(
        symbol,
        last_price=last,
        best_bid=book["bids"][0][0] if book["bids"] else None,
        best_ask=book["asks"][0][0] if book["asks"] else None,
        window=stats,
    )


def ticker_body(symbol, *, last_price: Decimal | None, best_bid: str | None, best_ask: str | None, window: Bucket | None) -> dict:
    pp = symbol.scale.price_places
    change = None
    if window is not None and window.open and last_price is not None:
        change = plain(((last_price - window.open) / window.open * 100).quantize(Decimal("0.01")), 2)
    return {
        "symbol": symbol.name,
        "last_price": render.decimal_or_none(last_price, pp),
        "best_bid": best_bid,
        "best_ask": best_ask,
        "open_24h": render.decimal_or_none(window and window.open, pp),
        "high_24h": render.decimal_or_none(window and window.high, pp),
        "low_24h": render.decimal_or_none(window and window.low, pp),
        "volume_24h": plain(window.volume if window else Decimal(0)),
        "quote_volume_24h": plain(window.quote_volume if window else Decimal(0)),
        "change_24h_percent": change,
    }


def candles(*, symbol: Symbol, interval: str, start: datetime | None = None, end: datetime | None = None,
            limit: int = DEFAULT_CANDLES, with_flow: bool = False) -> list[dict]:
    """Candles aggregated from trades (PostgreSQL date_bin), oldest first;
    `with_flow` adds each one's trade count and what taker buys bought.

    Only intervals with trades appear. Without `start`, the `limit` intervals
    before `end` (default now) are searched.
    """
    step = timedelta(seconds=INTERVALS[interval])
    limit = max(1, min(limit, MAX_CANDLES))
    end = end or timezone.now() + step
    start = start or end - step * limit
    rows = reversed(_candle_rows(symbol.id, step, start, end, limit))
    if with_flow:
        return [{**render.candle(symbol.scale, row), **render.candle_flow(row)} for row in rows]
    return [render.candle(symbol.scale, row) for row in rows]


def _candle_rows(symbol_id: int, step: timedelta, start: datetime, end: datetime, limit: int) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(CANDLES_SQL, {"step": step, "symbol_id": symbol_id, "start": start, "end": end, "limit": limit})
        names = [col.name for col in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def minute_buckets(*, symbol_id: int, now: datetime | None = None) -> MinuteBuckets:
    """The last 24 hours of trades in one-minute buckets (for the publisher)."""
    now = now or timezone.now()
    watermark = Trade.objects.filter(symbol_id=symbol_id).aggregate(top=Max("id"))["top"] or 0
    rows = _candle_rows(symbol_id, timedelta(minutes=1), now - timedelta(hours=24, minutes=2), now + timedelta(minutes=1), 24 * 60 + 3)
    buckets = {
        row["open_time"]: Bucket(row["open"], row["high"], row["low"], row["close"], row["volume"], row["quote_volume"])
        for row in rows
    }
    return MinuteBuckets(buckets, watermark)


def websocket_connection_stats() -> dict:
    """Connections, subscriptions per channel and message counts, summed over
    the live WebSocket server processes (each reports to Redis every few seconds)."""
    totals = {"connections": 0, "messages_sent": 0, "messages_dropped": 0, "slow_consumers_closed": 0}
    subscriptions: dict[str, int] = {}
    processes = 0
    client = get_redis()
    for key in client.scan_iter(match=keys.ws_stats_prefix() + "*", count=500):
        fields = {k.decode(): int(v) for k, v in client.hgetall(key).items()}
        if not fields:
            continue
        processes += 1
        for name in totals:
            totals[name] += fields.get(name, 0)
        for name, count in fields.items():
            if name.startswith("sub:") and count:
                subscriptions[name[4:]] = subscriptions.get(name[4:], 0) + count
    publisher = client.hgetall(keys.publisher_stats_key())
    return {
        **totals,
        "processes": processes,
        "subscriptions": dict(sorted(subscriptions.items())),
        "publisher_dropped": int(publisher.get(b"dropped", 0)),
    }
