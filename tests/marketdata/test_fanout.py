"""The per-process fan-out: one Redis subscription, retried until Redis
answers, that ends when its task is cancelled."""

from __future__ import annotations

import asyncio
import json
import threading

from asgiref.sync import async_to_sync
from redis.asyncio.client import PubSub

from core.redis import get_redis
from marketdata import keys
from marketdata.fanout import Fanout


class Receiver:
    def __init__(self) -> None:
        self.got: list[tuple] = []

    def deliver(self, message) -> None:
        self.got.append((message.stream, message.last, json.loads(message.text)))


def test_the_subscriber_retries_until_redis_answers_then_delivers_each_message_once(settings, db):
    reachable = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    message = {"type": "market.event", "channel": "depth:BTC-USDT", "sequence": 9, "ts": 0.0,
               "data": {"symbol": "BTC/USDT", "first": 9, "last": 9, "bids": [], "asks": []}}

    async def scenario():
        fanout = Fanout()
        down = await fanout.wait_connected(0.5)
        settings.REDIS_URL = reachable
        up = await fanout.wait_connected(10)
        receivers = [Receiver(), Receiver()]
        for receiver in receivers:
            fanout.add("depth:BTC-USDT", receiver)
        other = Receiver()
        fanout.add("trades:BTC-USDT", other)
        channel = keys.stream_channel("depth:BTC-USDT")
        await asyncio.to_thread(get_redis().publish, channel, json.dumps(message))
        async with asyncio.timeout(5):
            while fanout.messages < 1 or not all(r.got for r in receivers):
                await asyncio.sleep(0.01)
        stopped = await fanout.stop()
        return down, up, fanout.reconnects, receivers, other, stopped

    down, up, reconnects, receivers, other, stopped = async_to_sync(scenario)()

    assert (down, up, stopped) == (False, True, True)
    assert reconnects >= 1
    expected = ("depth:BTC-USDT", 9, {"channel": "depth:BTC-USDT", "type": "update", "sequence": 9,
                                      "data": message["data"]})
    assert all(r.got == [expected] for r in receivers)
    assert other.got == []


def test_stop_ends_a_listening_subscriber(db):
    async def scenario():
        fanout = Fanout()
        up = await fanout.wait_connected(10)
        stopped = await fanout.stop(timeout=5)
        return up, stopped, fanout.connected.is_set()

    assert async_to_sync(scenario)() == (True, True, False)


def drop_the_first_cancel_in_psubscribe(monkeypatch) -> threading.Event:
    """PSUBSCRIBE swallows the first cancel, as Python 3.11's asyncio.wait_for
    (redis-py's socket writes) does when the cancel lands as the write
    completes; the event is set once it waits for that cancel."""
    original = PubSub.psubscribe
    waiting = threading.Event()

    async def psubscribe(self, *args, **kwargs):
        waiting.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass  # dropped, and the task is still asked to stop
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(PubSub, "psubscribe", psubscribe)
    return waiting


def test_the_loop_shutdown_ends_the_subscriber_even_when_redis_dropped_the_cancel(db, monkeypatch):
    waiting = drop_the_first_cancel_in_psubscribe(monkeypatch)

    async def scenario():
        Fanout().start()
        await asyncio.to_thread(waiting.wait, 5)
        # Returning ends asyncio.run, as it ends each async_to_sync call: it
        # cancels the subscriber once and waits for it.

    # A daemon thread, so that a subscriber which does not end cannot hold up the exit.
    loop_thread = threading.Thread(target=asyncio.run, args=(scenario(),), name="fanout-loop", daemon=True)
    loop_thread.start()
    loop_thread.join(10)

    assert waiting.is_set()
    assert not loop_thread.is_alive()
