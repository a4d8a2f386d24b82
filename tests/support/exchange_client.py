"""A trading client for end-to-end and fault tests, and the client-side
record of everything it sent and was answered (the Ledger), checked against
the database once the stack is quiet (assert_consistent).

Over real HTTP a request can lose its answer (its web process was killed):
the client then sends the very same request again. A repeated
client_order_id answers with the original order, so orders and batches are
safe to re-send; an amend is not (it would be journaled again), so a lost
amend is recorded as "maybe applied" and not sent again.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

import requests

from tests.e2e.conftest import SEEDED_TOTALS

SYMBOL = "BTC/USDT"
TICK = Decimal("0.01")
STEP = Decimal("0.00001")
MID = 5_000_000  # 50000.00 in ticks
RESTING = ("OPEN", "PARTIALLY_FILLED", "UNTRIGGERED")
HTTP_TIMEOUT = 30
LOST = "lost"  # no answer: the connection died or timed out
RETRY_PAUSE_SECONDS = 0.2
# What a batch may answer for one of its orders, or for one of its cancels.
ORDER_REFUSALS = {"INSUFFICIENT_BALANCE"}
CANCEL_REFUSALS = {"ORDER_NOT_CANCELLABLE", "ORDER_NOT_FOUND"}


class Trader:
    def __init__(self, stack, username: str, timeout: float = HTTP_TIMEOUT) -> None:
        self.username = username
        self.base_url = stack.base_url
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {stack.token(username)}"}

    def place(self, body: dict) -> requests.Response:
        return requests.post(f"{self.base_url}/api/v1/orders", json=body, headers=self.headers, timeout=self.timeout)

    def cancel(self, order_id: int) -> requests.Response:
        return requests.delete(f"{self.base_url}/api/v1/orders/{order_id}", headers=self.headers, timeout=self.timeout)

    def batch(self, body: dict) -> requests.Response:
        return requests.post(f"{self.base_url}/api/v1/orders/batch", json=body, headers=self.headers, timeout=self.timeout)

    def amend(self, order_id: int, body: dict) -> requests.Response:
        return requests.patch(f"{self.base_url}/api/v1/orders/{order_id}", json=body, headers=self.headers,
                              timeout=self.timeout)

    def balances(self) -> requests.Response:
        return requests.get(f"{self.base_url}/api/v1/balances", headers=self.headers, timeout=self.timeout)


@dataclass(frozen=True)
class Amend:
    """One PATCH sent, with the order's complete new values (so that the
    AMEND command it journals can be told apart from any other)."""

    username: str
    order_id: int
    quantity: Decimal
    price: Decimal
    status: int | str  # the HTTP status, or LOST
    code: str = ""  # the error code of a refusal

    @property
    def key(self) -> tuple[int, Decimal, Decimal]:
        return self.order_id, self.quantity, self.price

    @property
    def accepted(self) -> bool:
        """Journaled once for certain: 200 applied, 202 the matcher will."""
        return self.status in (200, 202)

    @property
    def maybe_journaled(self) -> bool:
        """No answer, or ORDER_NOT_CANCELLABLE, which is also the answer to an
        amend journaled and then found the order already final."""
        return self.status == LOST or self.code == "ORDER_NOT_CANCELLABLE"


class Ledger:
    """What the clients sent and were told, checked answer by answer. Thread-safe.

    Every client_order_id sent (`sent`), how often (`sends`, retries
    included), the order each was answered with (`placed`) or the refusal
    of its last answer (`refused`); every amend (`amends`); and a count of
    every answer by kind of request and status (`answers`).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.placed: dict[str, tuple[str, int]] = {}  # client_order_id -> (username, order id)
        self.requests: dict[str, tuple[Trader, dict]] = {}
        self.open: list[tuple[Trader, int]] = []  # orders last seen resting
        self.answers: Counter = Counter()  # (kind, http status | LOST | order status | error code)
        self.sent: dict[str, str] = {}  # client_order_id -> username
        self.sends: Counter = Counter()  # client_order_id -> times sent
        self.refused: dict[str, str] = {}  # client_order_id -> error code, while not placed
        self.amends: list[Amend] = []

    # -- sending ------------------------------------------------------------

    def _send(self, kind: str, send, trader: Trader, client_ids: list[str],
              retry_until: float | None) -> requests.Response | None:
        """Send until answered (2xx or 4xx). A dropped connection, a timeout or
        a 5xx is counted and, until `retry_until` (time.monotonic()), sent
        again as it was; None when no answer came in time."""
        attempt = 0
        while True:
            with self.lock:
                for coid in client_ids:
                    self.sent[coid] = trader.username
                    self.sends[coid] += 1
            try:
                response = send()
            except requests.RequestException:
                response = None
            status = LOST if response is None else response.status_code
            with self.lock:
                self.answers[kind if attempt == 0 else f"{kind} RETRY", status] += 1
            if response is not None and response.status_code < 500:
                return response
            attempt += 1
            if retry_until is None or time.monotonic() >= retry_until:
                return None
            time.sleep(RETRY_PAUSE_SECONDS)

    def _placed(self, trader: Trader, coid: str, order: dict, kind: str) -> None:
        """Record an order answered for `coid` (caller holds the lock)."""
        assert order["client_order_id"] == coid, (coid, order)
        known = self.placed.get(coid)
        assert known in (None, (trader.username, order["id"])), f"{coid} answered as two orders: {known}, {order}"
        if order["status"] == "PENDING":
            self.answers[kind, "PENDING"] += 1
        self.placed[coid] = (trader.username, order["id"])
        self.refused.pop(coid, None)
        if known is None and order["status"] in RESTING:
            self.open.append((trader, order["id"]))

    def place(self, trader: Trader, body: dict, *, retry_until: float | None = None) -> requests.Response | None:
        """POST one order. Without retry_until an answer must come at once."""
        coid = body["client_order_id"]
        with self.lock:
            self.requests[coid] = (trader, body)
        response = self._send("POST", lambda: trader.place(body), trader, [coid], retry_until)
        if response is None:
            assert retry_until is not None, f"no answer to {body}"
            return None
        status, data = response.status_code, response.json()
        with self.lock:
            if status in (200, 201, 202):
                assert status != 200 or self.sends[coid] > 1, f"{coid} answered as a repeat when first sent"
                assert status != 201 or data["status"] != "PENDING", data
                if status == 202 and data["status"] == "PENDING":
                    self.answers["POST", "202 PENDING"] += 1
                self._placed(trader, coid, data, "POST")
            else:
                assert status == 400 and data["error"]["code"] == "INSUFFICIENT_BALANCE", (status, data)
                assert coid not in self.placed, f"{coid} placed, then refused"
                self.refused[coid] = data["error"]["code"]
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

    def batch(self, trader: Trader, *, cancel: list, orders: list[dict], retry_until: float) -> dict | None:
        """POST a batch, sent again as it was until answered or retry_until.
        Returns the answer's body, or None."""
        coids = [order["client_order_id"] for order in orders]
        body = {"cancel": cancel, "orders": orders}
        response = self._send("BATCH", lambda: trader.batch(body), trader, coids, retry_until)
        if response is None:
            return None
        status, data = response.status_code, response.json()
        assert status in (200, 201, 202), (status, data)
        assert len(data["orders"]) == len(orders) and len(data["cancelled"]) == len(cancel), data
        with self.lock:
            for coid, item in zip(coids, data["orders"]):
                if "order" in item:
                    self._placed(trader, coid, item["order"], "BATCH")
                    self.answers["BATCH ORDER", item["order"]["status"]] += 1
                else:
                    code = item["error"]["code"]
                    assert code in ORDER_REFUSALS, item
                    assert coid not in self.placed, f"{coid} placed, then refused: {item}"
                    self.refused[coid] = code
                    self.answers["BATCH ORDER", code] += 1
            for item in data["cancelled"]:
                if "error" in item:
                    assert item["error"]["code"] in CANCEL_REFUSALS, item
                    self.answers["BATCH CANCEL", item["error"]["code"]] += 1
                else:
                    self.answers["BATCH CANCEL", item["order"]["status"]] += 1
        return data

    def amend(self, trader: Trader, order_id: int, *, quantity: Decimal, price: Decimal) -> Amend:
        """PATCH an order to these complete new values, once: an amend whose
        answer is lost is not sent again (it would be journaled twice)."""
        key = (order_id, quantity, price)
        with self.lock:
            assert all(sent.key != key for sent in self.amends), f"amend {key} sent before: values must differ"
        body = {"quantity": str(quantity), "price": str(price)}
        response = self._send("PATCH", lambda: trader.amend(order_id, body), trader, [], None)
        status = LOST if response is None else response.status_code
        code = ""
        if response is not None:
            data = response.json()
            if status == 200:
                assert (Decimal(data["quantity"]), Decimal(data["price"])) == (quantity, price), (key, data)
            elif status != 202:
                code = data["error"]["code"]
                assert (status, code) in {(409, "AMEND_PENDING"), (409, "ORDER_NOT_CANCELLABLE"),
                                          (400, "INSUFFICIENT_BALANCE")}, (status, data)
        amend = Amend(trader.username, order_id, quantity, price, status, code)
        with self.lock:
            self.amends.append(amend)
        return amend

    # -- reading ------------------------------------------------------------

    def count(self, kind: str, status: int | str) -> int:
        return self.answers[kind, status]

    def answered(self) -> int:
        """Requests answered so far (retries included, lost ones not)."""
        return sum(n for (kind, status), n in self.answers.items()
                   if kind.split(" ")[0] in ("POST", "BATCH", "PATCH") and isinstance(status, int))

    def unknown(self) -> set[str]:
        """Client ids sent whose every answer was lost: may or may not exist."""
        return set(self.sent) - set(self.placed) - set(self.refused)

    def server_errors(self) -> dict:
        return {key: n for key, n in self.answers.items() if isinstance(key[1], int) and key[1] >= 500}


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
    never_sent = [key for key in stored if ledger.sent.get(key[1]) != key[0]]
    assert not never_sent, f"the database holds orders nobody sent: {never_sent}"
    refused = [coid for coid, code in ledger.refused.items() if (ledger.sent[coid], coid) in stored]
    assert not refused, f"orders answered with a refusal but stored: {refused}"
    untold = {key for key in stored if key[1] not in ledger.placed} - {(ledger.sent[c], c) for c in ledger.unknown()}
    assert not untold, f"the database holds orders nobody was told about: {untold}"

    assert db.scalar("SELECT count(*) FROM matching_enginecommand WHERE processed_at IS NULL") == 0
    assert db.query(
        "SELECT o.id, count(c.id) FROM orders_order o LEFT JOIN matching_enginecommand c"
        " ON c.order_id = o.id AND c.kind = 'PLACE' GROUP BY o.id HAVING count(c.id) <> 1"
    ) == [], "every order has exactly one PLACE command"
    assert db.scalar("SELECT count(*) FROM orders_order WHERE status = 'PENDING'") == 0
    assert_amends_applied_once(db, ledger)

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


def assert_amends_applied_once(db, ledger: Ledger) -> None:
    """Each accepted PATCH journaled exactly one AMEND, a lost one at most
    one, a refused one none, and nothing else journaled an AMEND; an order
    still resting, or whose last amend was answered as applied, holds the
    values of its last AMEND."""
    commands = db.query(
        "SELECT c.order_id, c.quantity, c.price, o.quantity, o.price, o.status FROM matching_enginecommand c"
        " JOIN orders_order o ON o.id = c.order_id WHERE c.kind = 'AMEND' ORDER BY c.id"
    )
    journaled = Counter((order_id, quantity, price) for order_id, quantity, price, *_ in commands)
    sent = {amend.key: amend for amend in ledger.amends}
    unsent = [key for key in journaled if key not in sent]
    assert not unsent, f"AMEND commands nobody sent: {unsent}"
    wrong = {
        key: (amend.status, amend.code, journaled[key]) for key, amend in sent.items()
        if journaled[key] not in ({1} if amend.accepted else {0, 1} if amend.maybe_journaled else {0})
    }
    assert not wrong, f"amends journaled other than once (status, code, AMEND commands): {wrong}"

    last = {order_id: (quantity, price, row) for order_id, quantity, price, *row in commands}
    for order_id, (quantity, price, (row_quantity, row_price, status)) in last.items():
        answered_applied = sent[order_id, quantity, price].status == 200
        if status in RESTING or answered_applied:
            assert (row_quantity, row_price) == (quantity, price), (
                f"order {order_id} ({status}) holds {row_quantity} @ {row_price}, its last amend {quantity} @ {price}"
            )
