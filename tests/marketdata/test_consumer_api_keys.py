"""/ws auth with an API key: {"op": "auth", "api_key", "timestamp",
"signature"}, the signature over timestamp + "WS"."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from apikeys import services
from tests.factories import place
from tests.support.matcher import process
from tradeengine.asgi import application

from .test_consumer import TIMEOUT, in_db, send

pytestmark = pytest.mark.django_db(transaction=True)


def auth_message(created: services.CreatedKey, *, timestamp: int | None = None, secret: str | None = None) -> dict:
    stamp = int(time.time() * 1000) if timestamp is None else timestamp
    signature = hmac.new((secret or created.secret).encode(), f"{stamp}WS".encode(), hashlib.sha256).hexdigest()
    return {"op": "auth", "api_key": created.key.api_key, "timestamp": stamp, "signature": signature}


async def connected_from(address: str = "127.0.0.1") -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, "/ws")
    communicator.scope["client"] = (address, 40000)
    accepted, _ = await communicator.connect(timeout=TIMEOUT)
    assert accepted
    return communicator


def answers(*messages: dict, address: str = "127.0.0.1") -> list[dict]:
    async def scenario():
        ws = await connected_from(address)
        replies = [await send(ws, message) for message in messages]
        await ws.disconnect()
        return replies

    return async_to_sync(scenario)()


def test_a_read_key_authenticates_and_gets_its_own_orders(symbol, alice, inline_publisher):
    created = services.create_key(user=alice, permissions=["READ"])

    async def scenario():
        ws = await connected_from()
        authed = await send(ws, auth_message(created))
        ack = await send(ws, {"op": "subscribe", "channels": ["orders"]})
        order = await in_db(place, alice, symbol, "BUY", "0.4", "50000.00")
        await in_db(process, symbol)
        update = await ws.receive_json_from(timeout=TIMEOUT)
        await ws.disconnect()
        return authed, ack, order, update

    authed, ack, order, update = async_to_sync(scenario)()

    assert authed == {"type": "authenticated", "data": {"user_id": alice.id, "username": "alice"}}
    assert ack == {"type": "subscribed", "channels": ["orders"]}
    assert update["channel"] == "orders" and [o["id"] for o in update["data"]["orders"]] == [order.id]


def test_bad_signatures_stale_timestamps_and_unknown_keys_are_refused(alice):
    created = services.create_key(user=alice, permissions=["READ", "TRADE"])
    unknown = {**auth_message(created), "api_key": "y" * 64}

    replies = answers(
        auth_message(created, secret="wrong"),
        auth_message(created, timestamp=int(time.time() * 1000) - 60_000),
        unknown,
        {"op": "auth", "api_key": created.key.api_key},
        {"op": "subscribe", "channels": ["orders"]},
    )

    assert [r["error"]["code"] for r in replies] == [
        "INVALID_SIGNATURE", "TIMESTAMP_OUT_OF_WINDOW", "INVALID_API_KEY", "TIMESTAMP_OUT_OF_WINDOW", "AUTH_REQUIRED",
    ]
    assert all(created.secret not in str(r) for r in replies)


def test_the_allowlist_applies_to_the_websocket_too(alice):
    created = services.create_key(user=alice, permissions=["READ"], ip_allowlist=["203.0.113.7"])

    assert answers(auth_message(created), address="192.0.2.1")[0]["error"]["code"] == "IP_NOT_ALLOWED"
    assert answers(auth_message(created), address="203.0.113.7")[0]["type"] == "authenticated"
