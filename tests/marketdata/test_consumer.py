"""The /ws consumer over an in-process ASGI app (channels.testing); public
streams reach it through the in-process fan-out, fed by Redis pub/sub."""

from __future__ import annotations

import time

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from marketdata.fanout import get_fanout
from marketdata.selectors import websocket_connection_stats
from marketdata.stats import stats
from tests.factories import place
from tests.support.matcher import process
from tradeengine.asgi import application

# channels' database_sync_to_async closes connections around each call, which
# a test wrapped in a transaction does not survive: these tests commit.
pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5


def run(scenario):
    # async_to_sync runs database calls of the scenario in this thread, inside
    # the test's transaction.
    return async_to_sync(scenario)()


async def connected() -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws")
    accepted, _ = await communicator.connect(timeout=TIMEOUT)
    assert accepted
    return communicator


async def send(communicator, message: dict) -> dict:
    await communicator.send_json_to(message)
    return await communicator.receive_json_from(timeout=TIMEOUT)


async def in_db(function, *args, **kwargs):
    return await database_sync_to_async(function)(*args, **kwargs)


def test_subscribe_acknowledges_and_sends_a_snapshot(symbol):
    async def scenario():
        ws = await connected()
        ack = await send(ws, {"op": "subscribe", "channels": ["trades:BTC-USDT"]})
        snapshot = await ws.receive_json_from(timeout=TIMEOUT)
        await ws.disconnect()
        return ack, snapshot

    ack, snapshot = run(scenario)

    assert ack == {"type": "subscribed", "channels": ["trades:BTC-USDT"]}
    assert snapshot == {"channel": "trades:BTC-USDT", "type": "snapshot", "sequence": 0, "data": []}


def test_unknown_channels_and_symbols_are_errors(symbol):
    async def scenario():
        ws = await connected()
        answers = [
            await send(ws, {"op": "subscribe", "channels": ["weather:BTC-USDT"]}),
            await send(ws, {"op": "subscribe", "channels": ["depth:NOPE-USDT"]}),
            await send(ws, {"op": "subscribe", "channels": ["candles:BTC-USDT:7m"]}),
            await send(ws, {"op": "dance"}),
        ]
        await ws.send_to(text_data="not json")
        answers.append(await ws.receive_json_from(timeout=TIMEOUT))
        await ws.disconnect()
        return [a["error"]["code"] for a in answers]

    assert run(scenario) == ["INVALID_CHANNEL", "UNKNOWN_SYMBOL", "INVALID_CHANNEL", "MALFORMED_REQUEST", "MALFORMED_REQUEST"]


def test_ping_is_answered_with_pong(db):
    async def scenario():
        ws = await connected()
        answer = await send(ws, {"op": "ping"})
        await ws.disconnect()
        return answer

    assert run(scenario) == {"type": "pong"}


def test_orders_channel_needs_auth(symbol, alice):
    async def scenario():
        ws = await connected()
        refused = await send(ws, {"op": "subscribe", "channels": ["orders"]})
        await ws.disconnect()
        return refused

    assert run(scenario)["error"]["code"] == "AUTH_REQUIRED"


def test_a_bad_token_is_refused(db):
    async def scenario():
        ws = await connected()
        answer = await send(ws, {"op": "auth", "token": "not-a-jwt"})
        await ws.disconnect()
        return answer

    assert run(scenario)["error"]["code"] == "INVALID_TOKEN"


def test_an_authenticated_client_gets_its_own_order_updates_only(symbol, alice, bob, inline_publisher):
    token = str(AccessToken.for_user(alice))

    async def scenario():
        ws = await connected()
        authed = await send(ws, {"op": "auth", "token": token})
        ack = await send(ws, {"op": "subscribe", "channels": ["orders"]})
        await in_db(place, bob, symbol, "SELL", "1", "50000.00")
        await in_db(process, symbol)
        bob_only = await ws.receive_nothing(timeout=0.3)
        order = await in_db(place, alice, symbol, "BUY", "0.4", "50000.00")
        await in_db(process, symbol)
        update = await ws.receive_json_from(timeout=TIMEOUT)
        await ws.disconnect()
        return authed, ack, bob_only, order, update

    authed, ack, bob_only, order, update = run(scenario)

    assert authed["type"] == "authenticated" and authed["data"]["user_id"] == alice.id
    assert ack == {"type": "subscribed", "channels": ["orders"]}
    assert bob_only
    assert (update["channel"], update["type"]) == ("orders", "update")
    assert [(o["id"], o["status"], o["filled_quantity"]) for o in update["data"]["orders"]] == [(order.id, "FILLED", "0.400")]
    assert [(f["side"], f["liquidity"], f["price"], f["quantity"]) for f in update["data"]["fills"]] == [
        ("BUY", "TAKER", "50000.00", "0.400")
    ]


def test_depth_snapshot_then_updates_with_sequence_ranges(symbol, alice, bob, inline_publisher):
    async def scenario():
        await in_db(place, alice, symbol, "BUY", "1", "49000.00")
        await in_db(process, symbol)
        ws = await connected()
        await send(ws, {"op": "subscribe", "channels": ["depth:BTC-USDT"]})
        snapshot = await ws.receive_json_from(timeout=TIMEOUT)
        await in_db(place, bob, symbol, "SELL", "0.25", "49000.00")
        await in_db(place, bob, symbol, "SELL", "2", "51000.00")
        await in_db(process, symbol)
        update = await ws.receive_json_from(timeout=TIMEOUT)
        await in_db(place, alice, symbol, "BUY", "0.75", "49000.00")
        await in_db(process, symbol)
        second = await ws.receive_json_from(timeout=TIMEOUT)
        await ws.disconnect()
        return snapshot, update, second

    snapshot, update, second = run(scenario)

    assert snapshot["type"] == "snapshot"
    assert snapshot["data"]["bids"] == [["49000.00", "1.000"]] and snapshot["data"]["asks"] == []
    assert update["type"] == "update"
    assert (update["data"]["first"], update["data"]["last"]) == (snapshot["sequence"] + 1, snapshot["sequence"] + 2)
    assert update["data"]["bids"] == [["49000.00", "0.750"]]
    assert update["data"]["asks"] == [["51000.00", "2.000"]]
    assert second["data"]["first"] == update["data"]["last"] + 1
    assert second["data"]["bids"] == [["49000.00", "1.500"]]


def test_unsubscribed_channels_stop_receiving(symbol, alice, bob, inline_publisher):
    async def scenario():
        ws = await connected()
        await send(ws, {"op": "subscribe", "channels": ["trades:BTC-USDT", "ticker:BTC-USDT"]})
        await ws.receive_json_from(timeout=TIMEOUT)  # the two snapshots
        await ws.receive_json_from(timeout=TIMEOUT)
        gone = await send(ws, {"op": "unsubscribe", "channels": ["trades:BTC-USDT"]})
        await in_db(place, alice, symbol, "BUY", "1", "50000.00")
        await in_db(place, bob, symbol, "SELL", "1", "50000.00")
        await in_db(process, symbol)
        ticker = await ws.receive_json_from(timeout=TIMEOUT)
        silent = await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()
        return gone, ticker, silent

    gone, ticker, silent = run(scenario)

    assert gone == {"type": "unsubscribed", "channels": ["trades:BTC-USDT"]}
    assert ticker["channel"] == "ticker:BTC-USDT" and ticker["data"]["last_price"] == "50000.00"
    assert silent


def test_connection_statistics_reach_the_selector(symbol):
    async def scenario():
        ws = await connected()
        await send(ws, {"op": "subscribe", "channels": ["depth:BTC-USDT", "trades:BTC-USDT"]})
        await ws.receive_json_from(timeout=TIMEOUT)  # the two snapshots
        await ws.receive_json_from(timeout=TIMEOUT)
        await stats.maybe_flush(force=True)
        during = await in_db(websocket_connection_stats)
        await ws.disconnect()
        after = await in_db(websocket_connection_stats)
        return during, after

    during, after = run(scenario)

    assert during["connections"] == 1
    assert during["subscriptions"] == {"depth:BTC-USDT": 1, "trades:BTC-USDT": 1}
    assert during["messages_sent"] >= 2
    assert after["connections"] == 0 and after["subscriptions"] == {}


def depth_message(sequence: int) -> dict:
    data = {"symbol": "BTC/USDT", "first": sequence, "last": sequence, "bids": [], "asks": []}
    return {"channel": "depth:BTC-USDT", "sequence": sequence, "data": data, "ts": time.time()}


def test_depth_updates_during_the_snapshot_wait_and_older_ones_are_skipped(symbol, monkeypatch):
    def slow_snapshot(stream):
        time.sleep(0.3)  # the fan-out keeps delivering meanwhile
        return {"symbol": "BTC/USDT", "sequence": 5, "bids": [], "asks": []}, 5

    monkeypatch.setattr("marketdata.consumers._snapshot", slow_snapshot)

    async def scenario():
        ws = await connected()
        ack = await send(ws, {"op": "subscribe", "channels": ["depth:BTC-USDT"]})
        for sequence in (4, 5, 6):
            get_fanout().dispatch(depth_message(sequence))
        snapshot = await ws.receive_json_from(timeout=TIMEOUT)
        update = await ws.receive_json_from(timeout=TIMEOUT)
        get_fanout().dispatch(depth_message(6))  # a repeat: nothing new
        get_fanout().dispatch(depth_message(7))
        following = await ws.receive_json_from(timeout=TIMEOUT)
        nothing_more = await ws.receive_nothing(timeout=0.2)
        await ws.disconnect()
        return ack, snapshot, update, following, nothing_more

    ack, snapshot, update, following, nothing_more = run(scenario)

    assert ack["type"] == "subscribed"
    assert (snapshot["type"], snapshot["sequence"]) == ("snapshot", 5)
    assert (update["type"], update["sequence"], update["data"]["first"]) == ("update", 6, 6)
    assert set(update) == {"channel", "type", "sequence", "data"}
    assert following["sequence"] == 7 and nothing_more


def test_a_client_whose_queue_fills_up_is_closed_as_slow(symbol, settings):
    settings.WS_MAX_BACKLOG = 3

    async def scenario():
        ws = await connected()
        await send(ws, {"op": "subscribe", "channels": ["depth:BTC-USDT"]})
        await ws.receive_json_from(timeout=TIMEOUT)  # the snapshot
        before = stats.slow_consumers_closed
        for sequence in range(100, 110):  # no await between: the writer cannot keep up
            get_fanout().dispatch(depth_message(sequence))
        error = await ws.receive_json_from(timeout=TIMEOUT)
        closed = await ws.receive_output(timeout=TIMEOUT)
        subscribers = dict(get_fanout().subscribers)
        await ws.disconnect()
        return error, closed, stats.slow_consumers_closed - before, subscribers

    error, closed, slow, subscribers = run(scenario)

    assert error["error"]["code"] == "SLOW_CONSUMER"
    assert closed == {"type": "websocket.close", "code": 4008}
    assert slow == 1
    assert "depth:BTC-USDT" not in subscribers  # the fan-out stopped feeding it at once


def test_one_fanout_feeds_every_local_subscriber_of_a_stream(symbol, alice, bob, inline_publisher):
    async def scenario():
        clients = [await connected() for _ in range(3)]
        for ws in clients:
            await send(ws, {"op": "subscribe", "channels": ["trades:BTC-USDT"]})
            await ws.receive_json_from(timeout=TIMEOUT)
        received_before = get_fanout().messages
        await in_db(place, alice, symbol, "BUY", "1", "50000.00")
        await in_db(place, bob, symbol, "SELL", "1", "50000.00")
        await in_db(process, symbol)
        updates = [await ws.receive_json_from(timeout=TIMEOUT) for ws in clients]
        for ws in clients:
            await ws.disconnect()
        return updates, get_fanout().messages - received_before

    updates, from_redis = run(scenario)

    assert all(u["channel"] == "trades:BTC-USDT" and u["type"] == "update" for u in updates)
    assert len({u["data"][0]["id"] for u in updates}) == 1
    assert from_redis >= 1
