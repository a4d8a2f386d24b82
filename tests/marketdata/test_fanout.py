"""The per-process fan-out: one Redis subscription, retried until Redis answers."""

from __future__ import annotations

import asyncio
import json

from asgiref.sync import async_to_sync

from marketdata import keys
from marketdata.fanout import Fanout
from core.redis import get_redis


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
        fanout._task.cancel()
        return down, up, fanout.reconnects, receivers, other

    down, up, reconnects, receivers, other = async_to_sync(scenario)()

    assert (down, up) == (False, True)
    assert reconnects >= 1
    expected = ("depth:BTC-USDT", 9, {"channel": "depth:BTC-USDT", "type": "update", "sequence": 9,
                                      "data": message["data"]})
    assert all(r.got == [expected] for r in receivers)
    assert other.got == []
