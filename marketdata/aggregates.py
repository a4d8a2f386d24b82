"""Rolling one-minute buckets of a symbol's trades, kept by the publisher so
it can send ticker and candle updates without querying the database.

Buckets align with the candle intervals (origin 2000-01-01T00:00Z), so every
candle is a sum of whole minutes. `watermark` is the highest trade id folded
in; a batch that arrives after a reload from the database skips what the
reload already counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from .streams import INTERVALS

ORIGIN = datetime(2000, 1, 1, tzinfo=timezone.utc)
WINDOW = timedelta(hours=24)
KEEP_MINUTES = 24 * 60 + 2


@dataclass
class Bucket:
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal

    def add(self, price: Decimal, quantity: Decimal, quote: Decimal) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += quantity
        self.quote_volume += quote

    def merge(self, later: "Bucket") -> None:
        self.high = max(self.high, later.high)
        self.low = min(self.low, later.low)
        self.close = later.close
        self.volume += later.volume
        self.quote_volume += later.quote_volume


def bucket_start(moment: datetime, seconds: int) -> datetime:
    elapsed = int((moment - ORIGIN).total_seconds())
    return ORIGIN + timedelta(seconds=elapsed - elapsed % seconds)


class MinuteBuckets:
    def __init__(self, buckets: dict[datetime, Bucket] | None = None, watermark: int = 0) -> None:
        self.buckets: dict[datetime, Bucket] = dict(buckets or {})
        self.watermark = watermark

    def add_trades(self, trades: list[dict]) -> bool:
        """Fold in trade rows (id, price, quantity, quote_quantity, executed_at); True if any was new."""
        added = False
        for trade in trades:
            if trade["id"] <= self.watermark:
                continue
            minute = bucket_start(trade["executed_at"], 60)
            price = trade["price"]
            bucket = self.buckets.get(minute)
            if bucket is None:
                self.buckets[minute] = Bucket(price, price, price, price, trade["quantity"], trade["quote_quantity"])
            else:
                bucket.add(price, trade["quantity"], trade["quote_quantity"])
            self.watermark = trade["id"]
            added = True
        if len(self.buckets) > KEEP_MINUTES:
            for minute in sorted(self.buckets)[: len(self.buckets) - KEEP_MINUTES]:
                del self.buckets[minute]
        return added

    def candle(self, interval: str, at: datetime) -> dict | None:
        """The candle of `interval` that contains `at`, or None without trades."""
        start = bucket_start(at, INTERVALS[interval])
        end = start + timedelta(seconds=INTERVALS[interval])
        total = self._sum(start, end)
        if total is None:
            return None
        return {"open_time": start, **total.__dict__}

    def rolling_24h(self, now: datetime) -> Bucket | None:
        """Trades of the last 24 hours, to the minute."""
        return self._sum(bucket_start(now, 60) - WINDOW + timedelta(minutes=1), now + timedelta(minutes=1))

    def _sum(self, start: datetime, end: datetime) -> Bucket | None:
        total = None
        for minute in sorted(m for m in self.buckets if start <= m < end):
            bucket = self.buckets[minute]
            if total is None:
                total = Bucket(**bucket.__dict__)
            else:
                total.merge(bucket)
        return total
