"""The market-data publish service: every public event (trades, depth,
ticker, candles, symbol status) leaves through here, as one Redis PUBLISH per
stream message that each daphne process fans out to its own clients (see
`fanout`); the order-book snapshot is kept in Redis, and the per-user
"orders" stream goes through Channels groups.

The matcher only puts each batch's `BookChange` on a bounded queue; a
background thread renders and sends it. Redis being slow or gone therefore
never stalls matching: sends have short timeouts, errors are logged (at most
every few seconds) and, when the queue is full, batches are dropped. A dropped
batch shows up to clients as a gap in the depth sequence, and the next batch
rewrites the full snapshot, so they resync from it.

The thread ends on `Publisher.stop` (after the batch it is on; what is still
queued is dropped, as when the process dies) and at the latest at process
exit, joined with a deadline: it never outlives the interpreter's shutdown
waiting on its queue. `shutdown()` stops the process-wide publisher that
`publish()` starts.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import queue
import threading
import time
from collections import defaultdict

import redis
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from core.api.fields import plain
from core.redis import get_redis
from riskadmin.models import Symbol

from . import keys, render
from .aggregates import MinuteBuckets
from .events import BookChange
from .selectors import minute_buckets, ticker_body
from .streams import INTERVALS, stream_of, user_group

log = logging.getLogger(__name__)

SNAPSHOT_LEVELS = 500
MESSAGE_TYPE = "market.event"  # handled by MarketDataConsumer.market_event
LOG_EVERY_SECONDS = 10.0
STOP_SECONDS = 5.0  # a batch in flight needs at most a few send timeouts
_WAKE = ("wake",)  # put on the queue by stop(): the thread sees the stop flag


class Publisher:
    def __init__(self, *, threaded: bool = True) -> None:
        self.threaded = threaded
        self.queue: queue.Queue = queue.Queue(maxsize=settings.MARKETDATA_PUBLISH_QUEUE)
        self.timeout = settings.MARKETDATA_PUBLISH_TIMEOUT
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._stopping = threading.Event()
        self._loaded: set[int] = set()  # symbols whose minute buckets were handed over
        self._stale: set[int] = set()  # symbols that lost a batch: reload their buckets
        self._dropped = 0
        self._dropped_reported = 0
        self._last_error_log = 0.0
        # Owned by the publishing thread:
        self._aggregates: dict[int, MinuteBuckets] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._layer = None
        self._redis: redis.Redis | None = None

    # -- the matcher's side: never blocks ---------------------------------

    def submit(self, changes: list[BookChange]) -> None:
        for change in changes:
            symbol_id = change.symbol.id
            if symbol_id not in self._loaded or symbol_id in self._stale:
                self._reload_aggregates(symbol_id)
            if not self._put(("change", change)):
                self._stale.add(symbol_id)
        if self.threaded:
            self._ensure_thread()
        else:
            self.drain()

    def _reload_aggregates(self, symbol_id: int) -> None:
        # Rare (start-up, or after a dropped batch): one query in the matcher.
        try:
            buckets = minute_buckets(symbol_id=symbol_id)
        except DatabaseError as exc:
            self._log_error("could not load recent trades for ticker and candles: %s", exc)
            return
        if self._put(("aggregates", symbol_id, buckets)):
            self._loaded.add(symbol_id)
            self._stale.discard(symbol_id)

    def _put(self, item) -> bool:
        try:
            self.queue.put_nowait(item)
            return True
        except queue.Full:
            self._dropped += 1
            self._log_error("market data queue full: dropped a batch (%s so far)", self._dropped)
            return False

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._stopping.is_set():
                return  # stopped for good: batches queue up and are dropped
            if self._thread is None or not self._thread.is_alive():
                # Daemon, so a stop that misses its deadline cannot hold up
                # the exit; the atexit hook stops it cleanly before that.
                self._thread = threading.Thread(target=self._run, name="marketdata-publisher", daemon=True)
                self._thread.start()
                atexit.register(self.stop)

    # -- stopping -----------------------------------------------------------

    def stop(self, *, timeout: float = STOP_SECONDS) -> bool:
        """Stop publishing: the thread finishes the batch it is on, drops the
        rest and closes its connections. True if it ended within `timeout`
        (a thread still sending is left to its socket timeouts)."""
        with self._start_lock:
            self._stopping.set()
            thread = self._thread
        atexit.unregister(self.stop)
        if thread is None:
            self._close()  # inline: the resources belong to the caller's thread
            return True
        try:
            self.queue.put_nowait(_WAKE)
        except queue.Full:
            pass  # the thread is busy and checks the flag after this batch
        thread.join(timeout)
        if thread.is_alive():
            log.warning("the market data publisher did not stop within %.1f s", timeout)
            return False
        return True

    def _close(self) -> None:
        """Release the Redis client, the channel layer and its event loop."""
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        if self._loop is not None:
            if self._layer is not None:
                try:
                    self._loop.run_until_complete(asyncio.wait_for(self._layer.close_pools(), self.timeout))
                except Exception as exc:  # noqa: BLE001  (closing: nothing left to save)
                    log.debug("closing the publisher's channel layer failed: %r", exc)
            self._loop.close()
            self._loop = None
        self._layer = None

    # -- the publishing thread --------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                item = self.queue.get()
                if self._stopping.is_set():
                    break
                self._process(item)
        finally:
            self._close()

    def drain(self) -> None:
        """Publish everything queued, in the calling thread."""
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                return
            self._process(item)

    def _process(self, item) -> None:
        try:
            if item[0] == "aggregates":
                self._aggregates[item[1]] = item[2]
            else:
                self._publish(item[1])
            self._report_drops()
        except Exception as exc:  # a bad batch must not kill the thread
            log.exception("publishing market data failed: %s", exc)

    def _publish(self, change: BookChange) -> None:
        if change.snapshot_only:
            self._send_public([], snapshot_of=change)
            return
        # Trades leave first, before the 500-level snapshot and the ticker
        # (a sum over up to 1440 minute buckets) are rendered. The depth
        # update follows the snapshot it belongs to: a client that subscribes
        # in between must not get a snapshot older than its first update.
        now = time.time()
        self._send_public(self._trade_messages(change, now))
        self._send_public([self._depth_message(change, now)], snapshot_of=change)
        messages = self._aggregate_messages(change, now)
        self._send_public([body for target, body in messages if target is None])
        private = [(target, body) for target, body in messages if target is not None]
        if private:
            self._run_async(self._send_all(private))

    def _send_public(self, messages: list[dict], *, snapshot_of: BookChange | None = None) -> None:
        """The snapshot, then each public message once: one round trip."""
        if not messages and snapshot_of is None:
            return
        pipe = self._redis_client().pipeline(transaction=False)
        if snapshot_of is not None:
            pipe.set(keys.book_snapshot_key(snapshot_of.symbol.name), json.dumps(self._snapshot(snapshot_of)))
        queue_public(pipe, messages)
        try:
            pipe.execute()
        except redis.RedisError as exc:
            self._log_error("could not store the order book snapshot or publish market data: %s", exc)

    @staticmethod
    def _snapshot(change: BookChange) -> dict:
        scale = change.symbol.scale
        return {
            "symbol": change.symbol.name,
            "sequence": change.last_sequence,
            "bids": render.levels(scale, render.top(change.bids, SNAPSHOT_LEVELS, descending=True), descending=True),
            "asks": render.levels(scale, render.top(change.asks, SNAPSHOT_LEVELS, descending=False), descending=False),
        }

    @staticmethod
    def _trade_messages(change: BookChange, now: float) -> list[dict]:
        if not change.trades:
            return []
        scale = change.symbol.scale
        return [message(stream_of("trades", change.symbol.name).name, change.trades[-1]["sequence"], now,
                        [render.trade(scale, t) for t in change.trades])]

    @staticmethod
    def _depth_message(change: BookChange, now: float) -> dict:
        symbol, scale = change.symbol, change.symbol.scale
        return message(stream_of("depth", symbol.name).name, change.last_sequence, now, {
            "symbol": symbol.name,
            "first": change.first_sequence,
            "last": change.last_sequence,
            "bids": render.levels(scale, change.changed_bids, descending=True),
            "asks": render.levels(scale, change.changed_asks, descending=False),
        })

    def _aggregate_messages(self, change: BookChange, now: float) -> list[tuple[str | None, dict]]:
        """Candles and ticker, then each trader's orders, as (target, body):
        target None = a public stream (published once), else the Channels
        group of one user's orders."""
        symbol, scale = change.symbol, change.symbol.scale
        out = []
        buckets = self._aggregates.setdefault(symbol.id, MinuteBuckets())
        if change.trades:
            buckets.add_trades(change.trades)
            at = change.trades[-1]["executed_at"]
            for interval in INTERVALS:
                row = buckets.candle(interval, at)
                if row is not None:
                    stream = stream_of("candles", symbol.name, interval)
                    out.append((None, message(stream.name, change.trades[-1]["sequence"], now, render.candle(scale, row))))
        if change.trades or self._top_changed(change):
            stream = stream_of("ticker", symbol.name)
            out.append((None, message(stream.name, change.last_sequence, now, self._ticker(change, buckets))))
        for user_id, data in self._per_user(change).items():
            out.append((user_group(user_id), message("orders", change.last_sequence, now, data)))
        return out

    @staticmethod
    def _top_changed(change: BookChange) -> bool:
        best_bid = max(change.bids, default=None)
        best_ask = min(change.asks, default=None)
        return any(price >= (best_bid or 0) for price in change.changed_bids) or any(
            best_ask is None or price <= best_ask for price in change.changed_asks
        )

    def _ticker(self, change: BookChange, buckets: MinuteBuckets) -> dict:
        scale = change.symbol.scale
        best_bid = max(change.bids, default=None)
        best_ask = min(change.asks, default=None)
        pp = scale.price_places
        return ticker_body(
            change.symbol,
            last_price=None if change.last_price is None else scale.price(change.last_price),
            best_bid=None if best_bid is None else plain(scale.price(best_bid), pp),
            best_ask=None if best_ask is None else plain(scale.price(best_ask), pp),
            window=buckets.rolling_24h(timezone.now()),
        )

    @staticmethod
    def _per_user(change: BookChange) -> dict[int, dict]:
        symbol, scale = change.symbol, change.symbol.scale
        per_user: dict[int, dict] = defaultdict(lambda: {"orders": [], "fills": []})
        for order in change.orders:
            per_user[order.user_id]["orders"].append(render.order_state(symbol.name, scale, order))
        for trade in change.trades:
            taker_buys = trade["taker_side"] == "BUY"
            legs = (
                (trade["buyer_id"], "BUY", trade["taker_order_id"] if taker_buys else trade["maker_order_id"],
                 trade["buyer_fee"], symbol.base_asset, "TAKER" if taker_buys else "MAKER"),
                (trade["seller_id"], "SELL", trade["maker_order_id"] if taker_buys else trade["taker_order_id"],
                 trade["seller_fee"], symbol.quote_asset, "MAKER" if taker_buys else "TAKER"),
            )
            for user_id, side, order_id, fee, fee_asset, liquidity in legs:
                per_user[user_id]["fills"].append({
                    **render.trade(scale, trade), "trade": trade["id"], "order": order_id, "symbol": symbol.name,
                    "side": side, "fee": plain(fee), "fee_asset": fee_asset, "liquidity": liquidity,
                })
        return dict(per_user)

    async def _send_all(self, messages: list[tuple[str, dict]]) -> None:
        layer = self._channel_layer()
        sends = [asyncio.wait_for(layer.group_send(group, body), self.timeout) for group, body in messages]
        for result in await asyncio.gather(*sends, return_exceptions=True):
            if isinstance(result, BaseException):
                self._log_error("could not send order updates: %r", result)

    # -- plumbing -----------------------------------------------------------

    def _run_async(self, coroutine) -> None:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(coroutine)

    def _channel_layer(self):
        # A layer of its own: channels-redis pools belong to one event loop.
        if self._layer is None:
            self._layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        return self._layer

    def _redis_client(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(
                settings.REDIS_URL, socket_connect_timeout=self.timeout, socket_timeout=self.timeout
            )
        return self._redis

    def _report_drops(self) -> None:
        delta = self._dropped - self._dropped_reported
        if not delta:
            return
        try:
            self._redis_client().hincrby(keys.publisher_stats_key(), "dropped", delta)
            self._dropped_reported += delta
        except redis.RedisError:
            pass  # reported with the next batch

    def _log_error(self, message: str, *args) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= LOG_EVERY_SECONDS:
            self._last_error_log = now
            log.warning(message, *args)


def message(stream_name: str, sequence: int, now: float, data) -> dict:
    """A stream message as published; `ts` (when it was rendered) lets a
    consumer notice it is falling behind."""
    return {"type": MESSAGE_TYPE, "channel": stream_name, "sequence": sequence, "data": data, "ts": now}


def queue_public(pipe, messages: list[dict]) -> None:
    """Add a PUBLISH per public stream message to a Redis pipeline."""
    for body in messages:
        pipe.publish(keys.stream_channel(body["channel"]), json.dumps(body))


def status_event(symbol: Symbol) -> dict:
    """A "status" message on the symbol's ticker stream (halt or resume)."""
    data = {"event": "status", "symbol": symbol.name, "status": symbol.status, "reason": symbol.halt_reason}
    return message(stream_of("ticker", symbol.name).name, 0, time.time(), data)


_publisher: Publisher | None = None


def publish(changes: list[BookChange]) -> None:
    """Hand committed batches to the publishing thread; never blocks."""
    global _publisher
    if not changes or not settings.MARKETDATA_PUBLISH:
        return
    if _publisher is None:
        _publisher = Publisher()
    _publisher.submit(changes)


def publish_symbol_status(symbol: Symbol) -> bool:
    """Announce a halt or resume to the symbol's ticker subscribers, from any
    process. Best effort: False (logged) when Redis cannot take it; the
    status change stands anyway and GET /api/v1/symbols shows it."""
    if not settings.MARKETDATA_PUBLISH:
        return False
    pipe = get_redis().pipeline(transaction=False)
    queue_public(pipe, [status_event(symbol)])
    try:
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("could not announce the status of %s: %s", symbol.name, exc)
        return False
    return True


def shutdown(*, timeout: float = STOP_SECONDS) -> bool:
    """Stop the process's publishing thread, if `publish()` started one; the
    next `publish()` starts a new one. True if it ended within `timeout`."""
    global _publisher
    publisher, _publisher = _publisher, None
    return publisher is None or publisher.stop(timeout=timeout)
