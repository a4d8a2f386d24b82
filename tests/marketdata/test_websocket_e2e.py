"""WebSocket depth over real processes (daphne, matcher, worker): a client
keeping a local book from the REST snapshot plus depth updates ends equal to
the REST book, a client resyncs after daphne restarts, and a client that
stops reading is closed without holding up the others."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import redis
import requests
import websockets

from tests.e2e.conftest import REDIS_URL, bare_stack, e2e_db, stack, stack_env  # noqa: F401  (fixtures)

pytestmark = pytest.mark.e2e

CHANNEL = "depth:BTC-USDT"
TIMEOUT = 10


class LocalBook:
    """REST snapshot + contiguous depth updates; raises on a gap."""

    def __init__(self, snapshot: dict) -> None:
        self.sequence = snapshot["sequence"]
        self.sides = {side: {p: q for p, q in snapshot[side]} for side in ("bids", "asks")}

    def apply(self, update: dict) -> None:
        if update["last"] <= self.sequence:
            return  # already in the snapshot
        assert update["first"] == self.sequence + 1, f"gap: at {self.sequence}, update {update['first']}..{update['last']}"
        for side in ("bids", "asks"):
            for price, quantity in update[side]:
                if Decimal(quantity) == 0:
                    self.sides[side].pop(price, None)
                else:
                    self.sides[side][price] = quantity
        self.sequence = update["last"]

    def levels(self, side: str) -> list[list[str]]:
        return [[p, q] for p, q in sorted(self.sides[side].items(), key=lambda pq: Decimal(pq[0]), reverse=side == "bids")]


def rest_book(base_url: str) -> dict:
    return requests.get(f"{base_url}/api/v1/orderbook/BTC-USDT?depth=500", timeout=TIMEOUT).json()


async def subscribe(ws_url: str):
    ws = await websockets.connect(ws_url, open_timeout=TIMEOUT)
    await ws.send(json.dumps({"op": "subscribe", "channels": [CHANNEL]}))
    return ws


async def depth_messages(ws, sink: list, subscribed: asyncio.Event) -> None:
    async for raw in ws:
        message = json.loads(raw)
        if message.get("channel") == CHANNEL and message["type"] == "update":
            sink.append(message["data"])
        elif message.get("channel") == CHANNEL and message["type"] == "snapshot":
            subscribed.set()


async def synced_book(ws, base_url: str, updates: list) -> LocalBook:
    """Updates are buffered from subscription on; the REST snapshot comes after,
    once the server has sent the stream's own snapshot: it listens by then."""
    subscribed = asyncio.Event()
    reader = asyncio.create_task(depth_messages(ws, updates, subscribed))
    async with asyncio.timeout(TIMEOUT):
        await subscribed.wait()
    book = LocalBook(await asyncio.to_thread(rest_book, base_url))
    return book, reader


async def converge(book: LocalBook, updates: list, base_url: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        while updates:
            book.apply(updates.pop(0))
        expected = await asyncio.to_thread(rest_book, base_url)
        if book.sequence == expected["sequence"]:
            return expected
        assert time.monotonic() < deadline, f"local book at {book.sequence}, REST at {expected['sequence']}"
        await asyncio.sleep(0.1)


def random_orders(stack, count: int, seed: int) -> None:
    rng = random.Random(seed)
    headers = {name: {"Authorization": f"Bearer {stack.token(name)}"} for name in ("alice", "bob")}
    open_orders: list[tuple[str, int]] = []

    def one(i: int) -> None:
        name = rng.choice(["alice", "bob"])
        if open_orders and rng.random() < 0.25:
            owner, order_id = open_orders.pop(rng.randrange(len(open_orders)))
            requests.delete(f"{stack.base_url}/api/v1/orders/{order_id}", headers=headers[owner], timeout=30)
            return
        body = {
            "symbol": "BTC/USDT", "side": rng.choice(["BUY", "SELL"]), "type": "LIMIT",
            "quantity": str(Decimal(rng.randint(100, 1000)) / 100000),
            "price": str(Decimal(5_000_000 + rng.randint(-40, 40) * 100) / 100),
            "client_order_id": f"ws-e2e-{seed}-{i}",
        }
        response = requests.post(f"{stack.base_url}/api/v1/orders", json=body, headers=headers[name], timeout=30)
        assert response.status_code in (201, 202), response.text
        if response.json()["status"] in ("OPEN", "PARTIALLY_FILLED", "PENDING"):
            open_orders.append((name, response.json()["id"]))

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, range(count)))


async def trade_and_converge(ws, stack, orders: int, *, seed: int):
    """Sync a local book from the REST snapshot and the subscribed depth
    updates, trade `orders` random orders, and return (local book, REST book)
    once the market is quiet."""
    updates: list = []
    book, reader = await synced_book(ws, stack.base_url, updates)
    await asyncio.to_thread(random_orders, stack, orders, seed=seed)
    await asyncio.to_thread(stack.wait_until_quiet)
    expected = await converge(book, updates, stack.base_url)
    reader.cancel()
    await ws.close()
    return book, expected


def test_local_book_from_rest_snapshot_and_depth_updates_equals_the_rest_book(stack):
    ws_url = f"ws://127.0.0.1:{stack.port}/ws"

    async def scenario():
        return await trade_and_converge(await subscribe(ws_url), stack, 200, seed=7)

    book, expected = asyncio.run(scenario())

    assert book.levels("bids") == expected["bids"]
    assert book.levels("asks") == expected["asks"]
    assert expected["bids"] and expected["asks"]


def test_a_client_resubscribes_and_resyncs_after_daphne_restarts(stack):
    ws_url = f"ws://127.0.0.1:{stack.port}/ws"

    async def reconnect(deadline: float):
        while True:
            try:
                return await subscribe(ws_url)
            except (OSError, websockets.InvalidHandshake):
                assert time.monotonic() < deadline, "could not reconnect"
                await asyncio.sleep(0.2)

    async def scenario():
        ws = await subscribe(ws_url)
        await asyncio.to_thread(random_orders, stack, 20, seed=1)
        await asyncio.to_thread(stack.kill, "daphne")
        with pytest.raises(websockets.ConnectionClosed):
            async with asyncio.timeout(TIMEOUT):
                while True:  # what was already delivered, then the close
                    await ws.recv()
        await asyncio.to_thread(stack.start_daphne)
        return await trade_and_converge(await reconnect(time.monotonic() + 30), stack, 40, seed=2)

    book, expected = asyncio.run(scenario())

    assert (book.levels("bids"), book.levels("asks")) == (expected["bids"], expected["asks"])


def test_a_client_that_stops_reading_is_closed_and_the_others_get_every_update(stack):
    """Updates go straight to each socket; one whose unsent bytes pile up
    (it stopped reading, its TCP window is closed) is closed as slow, and a
    reading client on the same stream still gets every update, in order."""
    ws_url = f"ws://127.0.0.1:{stack.port}/ws"
    client = redis.Redis.from_url(REDIS_URL)
    channel = f"md:{stack.db.name}:{CHANNEL}"
    levels = [[f"{50000 + i}.00", "1.00000000"] for i in range(3000)]  # about 80 kB per update
    sequences = list(range(10**9, 10**9 + 150))  # 12 MB: more than any socket buffer holds

    def slow_stats() -> int:
        return sum(int(client.hget(key, "slow_consumers_closed") or 0)
                   for key in client.scan_iter(match=f"marketdata:{stack.db.name}:ws:process:*"))

    async def until_snapshot(ws) -> None:
        while json.loads(await ws.recv()).get("type") != "snapshot":
            pass

    async def scenario():
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", stack.port))
        stalled = await websockets.connect(ws_url, sock=sock, max_queue=1, compression=None, open_timeout=TIMEOUT)
        reader = await subscribe(ws_url)
        await stalled.send(json.dumps({"op": "subscribe", "channels": [CHANNEL]}))
        await until_snapshot(stalled)  # from here on it reads nothing
        await until_snapshot(reader)
        received = []

        async def read_all() -> None:
            while len(received) < len(sequences):
                message = json.loads(await reader.recv())
                if message.get("type") == "update":
                    received.append((message["sequence"], message["data"]["bids"] == levels))

        reading = asyncio.create_task(read_all())
        for sequence in sequences:
            body = {"channel": CHANNEL, "sequence": sequence, "ts": time.time(), "data": {
                "symbol": "BTC/USDT", "first": sequence, "last": sequence, "bids": levels, "asks": []}}
            await asyncio.to_thread(client.publish, channel, json.dumps(body))
            await asyncio.sleep(0.005)  # as a busy market would, not one burst
        async with asyncio.timeout(60):
            await reading
        deadline = time.monotonic() + 20
        while slow_stats() < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.5)  # statistics reach Redis every few seconds
        await reader.close()
        stalled.transport.abort()
        return received, slow_stats()

    received, slow = asyncio.run(scenario())

    assert received == [(sequence, True) for sequence in sequences]
    assert slow == 1
