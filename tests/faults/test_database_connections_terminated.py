"""Every connection to the stack's database terminated, again and again for
about two seconds, while requests flow: the API answers 2xx or
503 SERVICE_UNAVAILABLE (never another 5xx), works again within 5 s of the
last termination, and the matcher goes on processing orders."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests

from tests.e2e.conftest import PG_HOST, PG_PORT, PG_USER
from tests.support.polling import wait_until

pytestmark = pytest.mark.e2e

HTTP_TIMEOUT = 30
FAULT_SECONDS = 2.0
# On a loaded machine the first rounds may catch no request mid-query: keep
# cutting connections (up to this long) until a 503 has been seen.
FAULT_SECONDS_MAX = 20.0
TERMINATE_EVERY = 0.2
RECOVERY_SECONDS = 5.0
_ids = itertools.count(1)


def terminate_connections(db_name: str) -> int:
    """pg_terminate_backend for the one test database only."""
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (db_name,),
        ).fetchall()
    return len(rows)


class Client:
    def __init__(self, stack) -> None:
        self.base_url = stack.base_url
        self.headers = {name: {"Authorization": f"Bearer {stack.token(name)}"} for name in ("alice", "bob")}
        self.lock = threading.Lock()
        self.answers: Counter = Counter()
        self.bad: list[tuple[str, int, str]] = []
        self.unavailable_posts: list[tuple[str, dict]] = []  # to re-send: the outcome is unknown
        self.placed: dict[str, int] = {}

    def order_body(self, side: str, price: str) -> dict:
        return {"symbol": "BTC/USDT", "side": side, "type": "LIMIT", "quantity": "0.001", "price": price,
                "client_order_id": f"db-{next(_ids)}"}

    def _check(self, what: str, response: requests.Response) -> bool:
        """Record the answer; True when it is a success."""
        status = response.status_code
        with self.lock:
            self.answers[what, status] += 1
            if 200 <= status < 300:
                return True
            try:
                code = response.json()["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = None
            if not (status == 503 and code == "SERVICE_UNAVAILABLE"):
                self.bad.append((what, status, response.text[:300]))
        return False

    def saw_unavailable(self) -> bool:
        with self.lock:
            return any(status == 503 for _, status in self.answers)

    def place(self, username: str, body: dict) -> requests.Response:
        response = requests.post(f"{self.base_url}/api/v1/orders", json=body, headers=self.headers[username],
                                 timeout=HTTP_TIMEOUT)
        if self._check("POST", response):
            with self.lock:
                assert self.placed.setdefault(body["client_order_id"], response.json()["id"]) == response.json()["id"]
        elif response.status_code == 503:
            with self.lock:
                self.unavailable_posts.append((username, body))
        return response

    def get(self, path: str, username: str = "alice") -> requests.Response:
        response = requests.get(f"{self.base_url}{path}", headers=self.headers[username], timeout=HTTP_TIMEOUT)
        self._check("GET " + path.split("?")[0], response)
        return response

    def one_round(self, i: int) -> None:
        # Far from the market: these orders rest, and never exhaust a balance.
        if i % 3 == 0:
            self.place("alice", self.order_body("BUY", "40000.00"))
        elif i % 3 == 1:
            self.place("bob", self.order_body("SELL", "60000.00"))
        else:
            self.get(["/api/v1/orders?symbol=BTC/USDT", "/api/v1/balances", "/api/v1/orderbook/BTC-USDT"][i % 9 // 3])


def test_api_answers_503_while_database_connections_die_and_recovers_within_5s(stack):
    db, client = stack.db, Client(stack)
    stop = threading.Event()
    terminated: list[int] = []

    def load() -> None:
        i = 0
        while not stop.is_set():
            client.one_round(i)
            i += 1

    with ThreadPoolExecutor(max_workers=6) as pool:
        loaders = [pool.submit(load) for _ in range(6)]
        wait_until(lambda: sum(client.answers.values()) >= 30, timeout=30, what="requests to flow")
        started = time.monotonic()
        while time.monotonic() - started < FAULT_SECONDS or (
            not client.saw_unavailable() and time.monotonic() - started < FAULT_SECONDS_MAX
        ):
            terminated.append(terminate_connections(db.name))
            time.sleep(TERMINATE_EVERY)  # the fault's pace, not a wait for anything
        last_termination = time.monotonic()

        def healthy() -> bool:
            try:
                statuses = [
                    client.place("alice", client.order_body("BUY", "40000.00")).status_code,
                    client.get("/api/v1/orders?symbol=BTC/USDT").status_code,
                ]
            except requests.RequestException:
                return False
            return all(200 <= s < 300 for s in statuses)

        wait_until(healthy, timeout=RECOVERY_SECONDS, interval=0.05, what="the API to answer again")
        recovered_after = time.monotonic() - last_termination
        stop.set()
        for loader in loaders:
            loader.result(timeout=HTTP_TIMEOUT * 2)

    assert sum(terminated) > len(terminated), f"connections terminated per round: {terminated}"
    assert not client.bad, f"answers other than 2xx or 503 SERVICE_UNAVAILABLE: {client.bad[:10]}"
    assert any(status == 503 for _, status in client.answers), f"the fault was never seen: {client.answers}"
    assert recovered_after <= RECOVERY_SECONDS

    # The matcher came through too: a crossing pair placed now trades.
    for process in ("daphne", "matcher", "worker"):
        assert stack.processes[process].alive(), f"{process} died:\n{stack.logs()}"
    sell = client.place("alice", client.order_body("SELL", "50000.00"))
    buy = client.place("bob", client.order_body("BUY", "50000.00"))
    assert (sell.status_code, buy.status_code) in ((201, 201), (201, 202), (202, 202), (202, 201)), (sell.text, buy.text)
    stack.wait_until_quiet(timeout=30)
    assert db.scalar("SELECT status FROM orders_order WHERE id = %s", (buy.json()["id"],)) == "FILLED"

    # A request answered 503 may or may not have committed: re-sending it
    # (same client_order_id) yields the one order, never a second.
    for username, body in client.unavailable_posts:
        response = client.place(username, body)
        assert response.status_code in (200, 201, 202), response.text
    stack.wait_until_quiet(timeout=30)
    stored = dict(db.query("SELECT client_order_id, id FROM orders_order WHERE client_order_id LIKE 'db-%%'"))
    assert stored == client.placed
    assert db.scalar("SELECT count(*) FROM orders_order") == db.scalar(
        "SELECT count(DISTINCT (user_id, client_order_id)) FROM orders_order")

    verify = db.manage("verify_book", check=False)
    assert verify.returncode == 0, f"verify_book failed:\n{verify.stdout}\n{verify.stderr}"
    stack.wait_until_settled(timeout=30)
    reconcile = db.manage("reconcile", check=False)
    assert reconcile.returncode == 0, f"reconcile failed:\n{reconcile.stdout}\n{reconcile.stderr}"
