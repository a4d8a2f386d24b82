"""A batch processed in-process publishes the book snapshot, one Redis
message on every public stream it touched and the traders' own orders."""

from __future__ import annotations

import json
import secrets
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from core.redis import get_redis
from marketdata import keys, publisher
from marketdata.streams import INTERVALS
from tests.factories import place
from tests.support.matcher import process
from tests.support.polling import wait_until

STREAMS = ["trades:BTC-USDT", "depth:BTC-USDT", "ticker:BTC-USDT", "candles:BTC-USDT:1m", "candles:BTC-USDT:1d"]
STREAMS_ALL = ["trades:BTC-USDT", "depth:BTC-USDT", "ticker:BTC-USDT",
               *(f"candles:BTC-USDT:{interval}" for interval in INTERVALS)]


def listen(groups: list[str]) -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    for group in groups:
        async_to_sync(layer.group_add)(group, channel)
    return channel


def received(channel: str, count: int) -> list[dict]:
    layer = get_channel_layer()

    async def receive_all():  # one event loop: channels-redis buffers per loop
        return [await layer.receive(channel) for _ in range(count)]

    return async_to_sync(receive_all)()


@pytest.fixture
def published():
    """The public stream messages PUBLISHed while the test runs, per Redis channel."""
    pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
    pubsub.psubscribe(keys.stream_channel_pattern())
    assert pubsub.get_message(timeout=2) is None  # the confirmation, swallowed
    def collect() -> dict[str, list[dict]]:
        """What arrived since the last call."""
        sink: dict[str, list[dict]] = {}
        while (message := pubsub.get_message(timeout=0.5)) is not None:
            sink.setdefault(message["channel"].decode(), []).append(json.loads(message["data"]))
        return sink

    yield collect
    pubsub.close()


def test_a_batch_publishes_snapshot_trades_depth_ticker_candles_and_orders(symbol, alice, bob, inline_publisher, published):
    place(alice, symbol, "BUY", "1", "49000.00")
    process(symbol)
    published()
    channel = listen([f"md.orders.{alice.id}", f"md.orders.{bob.id}"])
    place(bob, symbol, "SELL", "0.4", "49000.00")

    process(symbol)

    by_channel = published()
    assert {keys.stream_channel(name) for name in STREAMS} <= set(by_channel)
    assert all(len(bodies) == 1 for bodies in by_channel.values())  # each message once
    messages = {m["channel"]: m for [m] in by_channel.values()}
    assert all(keys.stream_channel(name) in by_channel for name in messages)
    assert {m["channel"] for m in received(channel, 2)} == {"orders"}
    snapshot = json.loads(get_redis().get(keys.book_snapshot_key("BTC/USDT")))
    assert snapshot == {"symbol": "BTC/USDT", "sequence": 2, "bids": [["49000.00", "0.600"]], "asks": []}
    depth = messages["depth:BTC-USDT"]
    assert (depth["sequence"], depth["data"]["first"], depth["data"]["last"]) == (2, 2, 2)
    assert depth["data"]["bids"] == [["49000.00", "0.600"]]
    [trade] = messages["trades:BTC-USDT"]["data"]
    assert (trade["price"], trade["quantity"], trade["taker_side"]) == ("49000.00", "0.400", "SELL")
    assert messages["ticker:BTC-USDT"]["data"]["last_price"] == "49000.00"
    assert messages["ticker:BTC-USDT"]["data"]["volume_24h"] == "0.4"
    assert messages["candles:BTC-USDT:1m"]["data"]["close"] == "49000.00"
    assert messages["candles:BTC-USDT:1d"]["data"]["volume"] == "0.4"


def test_each_trader_gets_their_own_orders_and_fills(symbol, alice, bob, inline_publisher):
    place(alice, symbol, "BUY", "1", "49000.00")
    process(symbol)
    alice_channel = listen([f"md.orders.{alice.id}"])
    bob_channel = listen([f"md.orders.{bob.id}"])
    place(bob, symbol, "SELL", "0.4", "49000.00")

    process(symbol)

    [to_alice] = received(alice_channel, 1)
    [to_bob] = received(bob_channel, 1)
    assert [(o["side"], o["status"]) for o in to_alice["data"]["orders"]] == [("BUY", "PARTIALLY_FILLED")]
    assert [(f["side"], f["liquidity"], f["fee_asset"]) for f in to_alice["data"]["fills"]] == [("BUY", "MAKER", "BTC")]
    assert [(o["side"], o["status"]) for o in to_bob["data"]["orders"]] == [("SELL", "FILLED")]
    assert [(f["side"], f["liquidity"], f["fee_asset"]) for f in to_bob["data"]["fills"]] == [("SELL", "TAKER", "USDT")]


def test_a_dead_redis_never_stops_matching(symbol, alice, bob, settings, inline_publisher):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    inline_publisher.timeout = 0.2
    place(alice, symbol, "BUY", "1", "49000.00")
    place(bob, symbol, "SELL", "1", "49000.00")

    result = process(symbol)

    assert len(result.trade_ids) == 1



def test_trades_leave_first_and_depth_right_after_its_snapshot(symbol, alice, bob, inline_publisher):
    """What the publisher sends Redis, in order (MONITOR): the trades first,
    then the book snapshot and the depth update, then candles and ticker."""
    place(alice, symbol, "BUY", "1", "49000.00")
    place(bob, symbol, "SELL", "0.4", "49000.00")
    names = {keys.stream_channel(stream): stream for stream in STREAMS_ALL} | {keys.book_snapshot_key("BTC/USDT"): "snapshot"}
    start, end = f"start-of-test-{secrets.token_hex(4)}", f"end-of-test-{secrets.token_hex(4)}"
    commands: list[str] = []
    listening = threading.Event()

    def monitor() -> None:
        with get_redis().monitor() as feed:
            for entry in feed.listen():
                if end in entry["command"]:
                    return
                if start in entry["command"]:
                    listening.set()
                command, _, rest = entry["command"].partition(" ")
                key = rest.split(" ", 1)[0]
                if command in ("PUBLISH", "SET") and key in names:
                    commands.append(names[key])

    watcher = threading.Thread(target=monitor, daemon=True)  # never holds up the exit
    watcher.start()

    def monitor_relays_this_client() -> bool:
        get_redis().echo(start)
        return listening.wait(0.05)

    wait_until(monitor_relays_this_client, timeout=5, interval=0, what="MONITOR to be on before the batch")

    process(symbol)

    get_redis().echo(end)
    watcher.join(10)
    assert not watcher.is_alive()
    batch = commands[commands.index("trades:BTC-USDT"):]  # a rebuilt book's snapshot may come first
    assert batch[:3] == ["trades:BTC-USDT", "snapshot", "depth:BTC-USDT"]
    assert sorted(batch[3:]) == sorted(set(STREAMS_ALL) - {"depth:BTC-USDT", "trades:BTC-USDT"})


def publisher_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "marketdata-publisher"]


def snapshot_sequence() -> int | None:
    stored = get_redis().get(keys.book_snapshot_key("BTC/USDT"))
    return None if stored is None else json.loads(stored)["sequence"]


def test_shutdown_ends_the_publishing_thread_the_matcher_started(symbol, alice, bob):
    place(alice, symbol, "BUY", "1", "49000.00")
    place(bob, symbol, "SELL", "0.4", "49000.00")
    process(symbol)  # through publish(): the process's publishing thread
    wait_until(lambda: snapshot_sequence() == 2, timeout=10, what="the publishing thread's snapshot")
    threads = publisher_threads()
    assert threads

    stopped = publisher.shutdown(timeout=5)

    assert stopped
    assert not any(thread.is_alive() for thread in threads)


def test_publishing_after_a_shutdown_starts_a_new_thread(symbol, alice, bob):
    place(alice, symbol, "BUY", "1", "49000.00")
    process(symbol)
    wait_until(lambda: snapshot_sequence() == 1, timeout=10, what="the first thread's snapshot")
    assert publisher.shutdown(timeout=5)
    place(bob, symbol, "SELL", "0.4", "49000.00")

    process(symbol)

    wait_until(lambda: snapshot_sequence() == 2, timeout=10, what="the second thread's snapshot")
    assert len(publisher_threads()) == 1
