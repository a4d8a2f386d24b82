"""kill -9 the matcher under load, over real HTTP, with real processes.

Afterwards: no order is lost or duplicated, every journalled command was
applied exactly once, the stored book and trades equal a fresh replay of the
journal (`manage.py verify_book`), and once the Celery worker has settled
every trade, each asset's balances add up to what was deposited.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from decimal import Decimal

import pytest
import requests

from tests.support.polling import wait_until

from .conftest import SEEDED_TOTALS

pytestmark = pytest.mark.e2e

SYMBOL = "BTC/USDT"
TICK = Decimal("0.01")
STEP = Decimal("0.00001")
MID = 5_000_000  # 50000.00 in ticks
RESTING = ("OPEN", "PARTIALLY_FILLED", "UNTRIGGERED")
HTTP_TIMEOUT = 30


class Trader:
    def __init__(self, stack, username: str) -> None:
        self.username = username
        self.base_url = stack.base_url
        self.headers = {"Authorization": f"Bearer {stack.token(username)}"}

    def place(self, body: dict) -> requests.Response:
        return requests.post(f"{self.base_url}/api/v1/orders", json=body, headers=self.headers, timeout=HTTP_TIMEOUT)

    def cancel(self, order_id: int) -> requests.Response:
        return requests.delete(f"{self.base_url}/api/v1/orders/{order_id}", headers=self.headers, timeout=HTTP_TIMEOUT)


class Ledger:
    """What the clients were told, checked answer by answer. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.placed: dict[str, tuple[str, int]] = {}  # client_order_id -> (username, order id)
        self.requests: dict[str, tuple[Trader, dict]] = {}
        self.open: list[tuple[Trader, int]] = []  # orders last seen resting
        self.answers: Counter = Counter()  # ("POST"|"DELETE"|"REPEAT", http status or "202 PENDING")

    def place(self, trader: Trader, body: dict) -> requests.Response:
        response = trader.place(body)
        status, data = response.status_code, response.json()
        coid = body["client_order_id"]
        with self.lock:
            self.answers["POST", status] += 1
            self.requests[coid] = (trader, body)
            if status in (201, 202):
                assert coid not in self.placed, f"{coid} answered {status} twice"
                assert data["client_order_id"] == coid
                if status == 201:
                    assert data["status"] != "PENDING", data
                elif data["status"] == "PENDING":
                    self.answers["POST", "202 PENDING"] += 1
                self.placed[coid] = (trader.username, data["id"])
                if data["status"] in RESTING:
                    self.open.append((trader, data["id"]))
            else:
                assert status == 400 and data["error"]["code"] == "INSUFFICIENT_BALANCE", (status, data)
        return response

    def cancel(self, trader: Trader, order_id: int) -> requests.Response:
        response = trader.cancel(order_id)
        with self.lock:
            self.answers["DELETE", response.status_code] += 1
        assert response.status_code in (200, 202, 409), (response.status_code, response.text)
        if response.status_code == 200:
            assert response.json()["status"] == "CANCELLED"
        return response

    def repeat(self, coid: str) -> None:
        """Re-send a placed order's request: the original comes back, nothing new."""
        trader, body = self.requests[coid]
        response = trader.place(body)
        with self.lock:
            self.answers["REPEAT", response.status_code] += 1
        assert response.status_code == 200, (response.status_code, response.text)
        assert response.json()["id"] == self.placed[coid][1]

    def count(self, kind: str, status: int | str) -> int:
        return self.answers[kind, status]


class Flow:
    """A seeded stream of order actions on BTC/USDT for alice and bob."""

    def __init__(self, seed: int, traders: list[Trader], ledger: Ledger, prefix: str) -> None:
        self.rng = random.Random(seed)
        self.traders = traders
        self.ledger = ledger
        self.prefix = prefix
        self.n = 0

    def next_action(self, *, live: bool, cancels: bool = True):
        """A zero-argument callable doing the next request.

        Cancel targets are drawn here, in the caller's thread, so the
        stream depends on the seed and on what earlier answers said only.
        live=False avoids market buys that lock all available quote.
        """
        rng = self.rng
        kind = rng.choices(["limit", "ioc", "market", "stop", "cancel"], weights=[55, 12, 10, 5, 18 if cancels else 0])[0]
        if kind == "cancel" and self.ledger.open:
            trader, order_id = self.ledger.open.pop(rng.randrange(len(self.ledger.open)))
            return lambda: self.ledger.cancel(trader, order_id)
        trader = rng.choice(self.traders)
        body = self._body("limit" if kind == "cancel" else kind, live)
        return lambda: self.ledger.place(trader, body)

    def _body(self, kind: str, live: bool) -> dict:
        rng = self.rng
        self.n += 1
        side = rng.choice(["BUY", "SELL"])
        buy = side == "BUY"
        body = {
            "symbol": SYMBOL,
            "side": side,
            "quantity": str(rng.randint(1000, 5000) * STEP),
            "client_order_id": f"{self.prefix}-{self.n}",
        }
        if kind in ("limit", "ioc"):
            # Buys lean below the mid, sells above, with enough overlap to trade.
            offset = rng.randint(-2000, 600) if buy else rng.randint(-600, 2000)
            if kind == "ioc":
                offset = rng.randint(0, 1500) * (1 if buy else -1)
                body["time_in_force"] = "IOC"
            body.update(type="LIMIT", price=str((MID + offset) * TICK))
        elif kind == "market":
            body["type"] = "MARKET"
            if buy and (not live or rng.random() < 0.7):
                body["quote_order_qty"] = str(rng.randint(500, 3000))
        else:
            stop = MID + rng.randint(200, 3000) * (1 if buy else -1)
            limit = stop + 1000 * (1 if buy else -1)
            body.update(type="STOP_LIMIT", stop_price=str(stop * TICK), price=str(limit * TICK))
        return body


def traders_for(stack) -> list[Trader]:
    return [Trader(stack, "alice"), Trader(stack, "bob")]


def assert_consistent(stack, ledger: Ledger) -> None:
    """The invariants, read straight from the e2e database."""
    db = stack.db
    stack.wait_until_quiet()

    rows = db.query(
        "SELECT u.username, o.client_order_id, o.id FROM orders_order o JOIN auth_user u ON u.id = o.user_id"
    )
    by_client_id = Counter((username, coid) for username, coid, _ in rows)
    duplicated = [key for key, n in by_client_id.items() if n > 1]
    assert not duplicated, f"orders stored twice: {duplicated}"
    stored = {(username, coid): order_id for username, coid, order_id in rows}
    lost = {coid: placed for coid, placed in ledger.placed.items() if stored.get((placed[0], coid)) != placed[1]}
    assert not lost, f"orders answered 201/202 but not stored under that id: {lost}"
    assert len(rows) == len(ledger.placed), "the database holds orders nobody was told about"

    assert db.scalar("SELECT count(*) FROM matching_enginecommand WHERE processed_at IS NULL") == 0
    assert db.query(
        "SELECT o.id, count(c.id) FROM orders_order o LEFT JOIN matching_enginecommand c"
        " ON c.order_id = o.id AND c.kind = 'PLACE' GROUP BY o.id HAVING count(c.id) <> 1"
    ) == [], "every order has exactly one PLACE command"
    assert db.scalar("SELECT count(*) FROM orders_order WHERE status = 'PENDING'") == 0

    verify = db.manage("verify_book", check=False)
    assert verify.returncode == 0, f"verify_book failed:\n{verify.stdout}\n{verify.stderr}"

    stack.wait_until_settled()
    totals = dict(db.query("SELECT asset, sum(available + locked) FROM settlement_balance GROUP BY asset"))
    assert totals == SEEDED_TOTALS, f"balances do not add up to the deposits: {totals}"
    assert db.query("SELECT user_id, asset FROM settlement_balance WHERE available < 0 OR locked < 0") == []
    # Locked funds are exactly what live orders still reserve.
    assert db.query(
        "SELECT b.user_id, b.asset, b.locked, coalesce(l.reserved, 0) FROM settlement_balance b LEFT JOIN ("
        "  SELECT user_id, locked_asset AS asset,"
        "    sum(locked_amount - CASE WHEN side = 'BUY' THEN executed_quote ELSE filled_quantity END) AS reserved"
        "  FROM orders_order WHERE status IN ('UNTRIGGERED', 'OPEN', 'PARTIALLY_FILLED') GROUP BY 1, 2"
        ") l ON l.user_id = b.user_id AND l.asset = b.asset WHERE b.locked <> coalesce(l.reserved, 0)"
    ) == []


def test_orders_survive_a_matcher_kill_between_requests(stack):
    traders = traders_for(stack)
    ledger = Ledger()
    flow = Flow(20241125, traders, ledger, "k1")

    for _ in range(100):
        flow.next_action(live=True)()
    assert ledger.count("POST", 201) > 50
    for coid in random.Random(1).sample(sorted(ledger.placed), 3):
        ledger.repeat(coid)

    stack.kill("matcher")
    before = dict(ledger.placed)
    actions = [flow.next_action(live=False) for _ in range(100)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        for future in [pool.submit(action) for action in actions]:
            future.result(timeout=HTTP_TIMEOUT * 2)
    assert ledger.count("POST", "202 PENDING") >= 1, ledger.answers
    while_down = sorted(set(ledger.placed) - set(before))
    for coid in while_down[:3]:
        ledger.repeat(coid)

    stack.start_matcher()
    for _ in range(100):
        flow.next_action(live=True)()
    for coid in random.Random(2).sample(sorted(ledger.placed), 3):
        ledger.repeat(coid)

    assert not any(isinstance(status, int) and status >= 500 for _, status in ledger.answers), ledger.answers
    assert stack.db.scalar("SELECT count(*) FROM orders_trade") > 20, "the stream should trade"
    assert_consistent(stack, ledger)


def test_orders_survive_a_matcher_kill_mid_burst(stack):
    traders = traders_for(stack)
    ledger = Ledger()
    flow = Flow(7, traders, ledger, "k2")
    for _ in range(20):  # a book to trade against
        flow.next_action(live=True, cancels=False)()

    actions = [flow.next_action(live=False) for _ in range(50)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        futures = [pool.submit(action) for action in actions]
        wait_until(lambda: sum(f.done() for f in futures) >= 8, timeout=30, what="the burst to get going", interval=0.01)
        stack.kill("matcher")
        done, not_done = wait_futures(futures, timeout=HTTP_TIMEOUT * 2)
        assert not not_done
        for future in done:
            future.result()
    assert ledger.count("POST", "202 PENDING") >= 1, ledger.answers

    stack.start_matcher()
    for coid in sorted(ledger.placed)[-3:]:
        ledger.repeat(coid)
    assert not any(isinstance(status, int) and status >= 500 for _, status in ledger.answers), ledger.answers
    assert_consistent(stack, ledger)
