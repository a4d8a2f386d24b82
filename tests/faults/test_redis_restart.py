"""The stack's Redis (a private redis-server) killed with -9 and started
again: a WebSocket client reconnects if it must, resubscribes and receives
trades again; settlement resumes, and every trade ends SETTLED exactly once."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest
import requests
import websockets

from tests.e2e.conftest import SEEDED_TOTALS
from tests.support.polling import wait_until

pytestmark = pytest.mark.e2e

CHANNEL = "trades:BTC-USDT"
HTTP_TIMEOUT = 30
_orders = itertools.count(1)


@pytest.fixture
def stack_env(private_redis):
    # REDIS_URL carries the cache, the channel layer, market data and the Celery broker.
    return {"REDIS_URL": private_redis.url}


class Traders:
    def __init__(self, stack) -> None:
        self.url = f"{stack.base_url}/api/v1/orders"
        self.headers = {name: {"Authorization": f"Bearer {stack.token(name)}"} for name in ("alice", "bob")}

    def place(self, username: str, side: str) -> requests.Response:
        body = {"symbol": "BTC/USDT", "side": side, "type": "LIMIT", "quantity": "0.01", "price": "50000.00",
                "client_order_id": f"redis-{next(_orders)}"}
        return requests.post(self.url, json=body, headers=self.headers[username], timeout=HTTP_TIMEOUT)

    def trade(self) -> None:
        """alice sells, bob buys at the same price: one trade."""
        sell, buy = self.place("alice", "SELL"), self.place("bob", "BUY")
        assert (sell.status_code, buy.status_code) == (201, 201), (sell.text, buy.text)
        assert buy.json()["status"] == "FILLED", buy.text


class TradesClient:
    """Follows the trades stream; on a closed connection it reconnects and resubscribes."""

    def __init__(self, ws_url: str) -> None:
        self.ws_url = ws_url
        self.trade_ids: list[int] = []
        self.connections = 0
        self.ws = None

    async def connect(self, deadline: float) -> None:
        while True:
            try:
                self.ws = await websockets.connect(self.ws_url, open_timeout=5)
                await self.ws.send(json.dumps({"op": "subscribe", "channels": [CHANNEL]}))
                self.connections += 1
                return
            except (OSError, websockets.InvalidHandshake, websockets.ConnectionClosed, TimeoutError):
                assert time.monotonic() < deadline, "could not reconnect"
                await asyncio.sleep(0.2)

    async def run(self) -> None:
        deadline = time.monotonic() + 60
        await self.connect(deadline)
        while True:
            try:
                message = json.loads(await self.ws.recv())
            except websockets.ConnectionClosed:
                await self.connect(deadline)
                continue
            if message.get("channel") == CHANNEL and message.get("type") == "update":
                self.trade_ids += [int(t["id"]) for t in message["data"]]


def pending_trades(db) -> list[int]:
    return [row[0] for row in db.query("SELECT id FROM orders_trade WHERE settlement_status <> 'SETTLED' ORDER BY id")]


def last_trade_id(db) -> int:
    return db.scalar("SELECT coalesce(max(id), 0) FROM orders_trade")


def test_websocket_clients_and_settlement_resume_after_redis_restarts(stack, private_redis):
    db, traders = stack.db, Traders(stack)
    client = TradesClient(f"ws://127.0.0.1:{stack.port}/ws")

    async def trade_until_seen(after: int, timeout: float) -> None:
        """Trade until the client has received a trade newer than `after`.
        Pub/sub does not keep what nobody was subscribed to yet, hence the loop."""
        deadline = time.monotonic() + timeout
        while not any(t > after for t in client.trade_ids):
            assert time.monotonic() < deadline, f"no trade after {after} received; got {client.trade_ids[-5:]}"
            await asyncio.to_thread(traders.trade)
            waited = time.monotonic() + 1.0
            while time.monotonic() < waited and not any(t > after for t in client.trade_ids):
                await asyncio.sleep(0.05)

    async def scenario() -> tuple[list[int], int]:
        reader = asyncio.create_task(client.run())
        try:
            await trade_until_seen(0, timeout=20)
            await asyncio.to_thread(stack.wait_until_settled, 20)
            # Settlement messages waiting in Redis when it dies are lost with it.
            await asyncio.to_thread(stack.kill, "worker")
            for _ in range(2):
                await asyncio.to_thread(traders.trade)
            lost = pending_trades(db)

            private_redis.kill()
            private_redis.start()
            await asyncio.to_thread(stack.start_worker)
            restarted_after = last_trade_id(db)
            await trade_until_seen(restarted_after, timeout=30)
            for _ in range(5):
                await asyncio.to_thread(traders.trade)
            return lost, restarted_after
        finally:
            reader.cancel()
            if client.ws is not None:
                await client.ws.close()

    lost, restarted_after = asyncio.run(scenario())
    assert len(lost) == 2
    for process in ("daphne", "matcher", "worker"):
        assert stack.processes[process].alive(), f"{process} died:\n{stack.logs()}"

    # Trades after the restart settle on their own, through the new broker.
    wait_until(lambda: pending_trades(db) == lost, timeout=30, interval=0.25,
               what="the trades after the restart to settle", on_timeout=stack.logs)
    assert db.scalar("SELECT count(*) FROM orders_trade WHERE id > %s", (restarted_after,)) >= 6
    # The sweeper re-queues the ones whose messages died with Redis.
    stack.db.env["SETTLEMENT_SWEEP_AGE_SECONDS"] = "0"
    db.manage("shell", "-c", "from settlement.tasks import sweep_unsettled; sweep_unsettled()")
    stack.wait_until_settled(timeout=30)

    ids = [row[0] for row in db.query("SELECT id FROM orders_trade ORDER BY id")]
    assert ids and db.scalar("SELECT count(*) FROM orders_trade WHERE settlement_status = 'SETTLED'") == len(ids)
    wrong = db.query(
        "SELECT t.id, count(l.id) FROM orders_trade t"
        " LEFT JOIN settlement_ledgerentry l ON l.reference = 'trade:' || t.id"
        " GROUP BY t.id, t.buyer_fee, t.seller_fee"
        " HAVING count(l.id) <> 4 + (t.buyer_fee > 0)::int + (t.seller_fee > 0)::int"
    )
    assert wrong == [], f"trades settled other than once (trade, ledger lines): {wrong}"
    totals = dict(db.query("SELECT asset, sum(available + locked) FROM settlement_balance GROUP BY asset"))
    assert totals == SEEDED_TOTALS, f"balances do not add up to the deposits: {totals}"
    reconcile = db.manage("reconcile", check=False)
    assert reconcile.returncode == 0, f"reconcile failed:\n{reconcile.stdout}\n{reconcile.stderr}"
