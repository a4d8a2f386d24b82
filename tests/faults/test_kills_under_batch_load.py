"""kill -9 the matcher, one of run_web's daphne processes and the Celery
worker, in turn, again and again, while market makers requote through the
batch endpoint (cancelling their previous quotes by client_order_id, the new
sells borrowing what those cancels free) and amend quotes with PATCH, and
takers cross them. A request whose answer is lost is sent again as it was
(an amend is not: see tests/support/exchange_client.py).

Afterwards: every order answered exists once, under its id, and nothing
exists that was never sent; each accepted amend journaled exactly one AMEND
and resting orders hold their last amend; the book equals a replay of the
journal (`manage.py verify_book`), every trade is settled and the money
reconciles (`manage.py reconcile`).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

import pytest

from tests.support.exchange_client import LOST, RESTING, Ledger, Trader, assert_consistent
from tests.support.polling import wait_until
from tradeengine.management.commands.run_web import MAX_RESTARTS_IN_WINDOW, RESTART_WINDOW_SECONDS

pytestmark = pytest.mark.e2e

VICTIMS = ("matcher", "web", "worker")
KILLS = 27  # nine of each
ANSWERS_BETWEEN_KILLS = 8  # so that each kill finds requests in flight
HTTP_TIMEOUT = 15
RETRY_SECONDS = 45  # a lost order or batch is sent again for this long at most
LEVELS = 3  # quotes on each side
SELL_SHARE = Decimal("0.8")  # of the maker's base asset quoted for sale: each requote borrows


@dataclass(frozen=True)
class Market:
    symbol: str
    base: str
    mid: int  # in ticks
    tick: Decimal
    step: Decimal
    buy_lots: tuple[int, int]  # the size of a buy quote or a take, in steps

    def price(self, ticks: int) -> Decimal:
        return ticks * self.tick


BTC = Market("BTC/USDT", "BTC", 5_000_000, Decimal("0.01"), Decimal("0.00001"), (500, 3000))
ETH = Market("ETH/USDT", "ETH", 300_000, Decimal("0.01"), Decimal("0.0001"), (500, 3000))


class Client(threading.Thread):
    """Runs `step` until stopped; the first error is kept for the test."""

    def __init__(self, name: str, step) -> None:
        super().__init__(name=name, daemon=True)
        self.step = step
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.step()
        except BaseException as exc:  # re-raised in the test's thread
            self.error = exc

    def check(self) -> None:
        if self.error is not None:
            raise AssertionError(f"client {self.name} failed") from self.error


class Maker:
    """Requotes one market in one batch, then amends one of its quotes."""

    def __init__(self, trader: Trader, ledger: Ledger, market: Market, seed: int) -> None:
        self.trader, self.ledger, self.market = trader, ledger, market
        self.rng = random.Random(seed)
        self.prefix = f"{trader.username}-q"
        self.n = 0
        self.amends = 0
        self.quotes: list[str] = []  # client ids of quotes that may be live
        self.resting: list[dict] = []  # the quotes last answered resting
        self.base_held = Decimal("0")

    def step(self) -> None:
        self.requote()
        if self.resting:
            self.amend(self.rng.choice(self.resting))

    def requote(self) -> None:
        market = self.market
        self._read_holdings()
        sell_lot = (self.base_held * SELL_SHARE / LEVELS).quantize(market.step, rounding=ROUND_DOWN)
        orders = []
        for level in range(1, LEVELS + 1):
            spread = level * 20 + self.rng.randint(0, 10)
            if sell_lot > 0:
                orders.append(self._quote("SELL", market.mid + spread, sell_lot))
            orders.append(self._quote("BUY", market.mid - spread, self.rng.randint(*market.buy_lots) * market.step))
        cancel = [{"client_order_id": coid} for coid in self.quotes]
        answer = self.ledger.batch(self.trader, cancel=cancel, orders=orders, retry_until=time.monotonic() + RETRY_SECONDS)
        coids = [order["client_order_id"] for order in orders]
        if answer is None:  # the old quotes may still be live as well
            self.quotes = (self.quotes + coids)[-40:]
            return
        placed = [(coid, item["order"]) for coid, item in zip(coids, answer["orders"]) if "order" in item]
        self.quotes = [coid for coid, order in placed if order["status"] in (*RESTING, "PENDING")]
        self.resting = [order for _, order in placed if order["status"] in (*RESTING, "PENDING")]

    def _quote(self, side: str, ticks: int, quantity: Decimal) -> dict:
        self.n += 1
        return {
            "symbol": self.market.symbol, "side": side, "type": "LIMIT", "price": str(self.market.price(ticks)),
            "quantity": str(quantity), "client_order_id": f"{self.prefix}-{self.n}",
        }

    def amend(self, quote: dict) -> None:
        """Move the quote away from the mid by a distance never used before
        (so each amend's values are its own); a buy also grows."""
        self.amends += 1
        away = -1 if quote["side"] == "BUY" else 1
        price = Decimal(quote["price"]) + away * self.amends * self.market.tick
        quantity = Decimal(quote["quantity"])
        if quote["side"] == "BUY":
            quantity += self.rng.randint(0, 100) * self.market.step
        self.ledger.amend(self.trader, quote["id"], quantity=quantity, price=price)

    def _read_holdings(self) -> None:
        """The maker's base asset, available and locked (the last known
        when the answer is lost)."""
        try:
            response = self.trader.balances()
        except OSError:
            return
        if response.status_code == 200:
            held = {row["asset"]: Decimal(row["available"]) + Decimal(row["locked"]) for row in response.json()}
            self.base_held = held.get(self.market.base, Decimal("0"))


class Taker:
    """Crosses a market with IOC orders, one at a time, either side."""

    def __init__(self, trader: Trader, ledger: Ledger, market: Market, seed: int) -> None:
        self.trader, self.ledger, self.market = trader, ledger, market
        self.rng = random.Random(seed)
        self.n = 0

    def step(self) -> None:
        market = self.market
        self.n += 1
        side = self.rng.choice(["BUY", "SELL"])
        ticks = market.mid + (60 if side == "BUY" else -60)
        body = {
            "symbol": market.symbol, "side": side, "type": "LIMIT", "time_in_force": "IOC",
            "price": str(market.price(ticks)), "quantity": str(self.rng.randint(*market.buy_lots) * market.step),
            "client_order_id": f"{self.trader.username}-t-{self.n}",
        }
        self.ledger.place(self.trader, body, retry_until=time.monotonic() + RETRY_SECONDS)


class Killer:
    """kill -9 the stack's processes in turn, each once enough requests were
    answered since the last kill, and start them again."""

    def __init__(self, stack, ledger: Ledger, clients: list[Client]) -> None:
        self.stack, self.ledger, self.clients = stack, ledger, clients
        self.kills: list[str] = []
        self.web_kills: list[float] = []

    def kill_next(self) -> None:
        victim = VICTIMS[len(self.kills) % len(VICTIMS)]
        target = self.ledger.answered() + ANSWERS_BETWEEN_KILLS
        wait_until(lambda: self._clients_ok() and self.ledger.answered() >= target, timeout=60, interval=0.05,
                   what=f"{ANSWERS_BETWEEN_KILLS} answers before killing the {victim}", on_timeout=self.stack.logs)
        if victim == "matcher":
            self.stack.kill("matcher")
            self.stack.start_matcher()
        elif victim == "worker":
            self.stack.kill("worker")
            self.stack.start_worker()
        else:
            self._within_run_webs_restart_budget()
            self.web_kills.append(time.monotonic())
            self.stack.kill_web_process(len(self.web_kills))
        self.kills.append(victim)

    def _within_run_webs_restart_budget(self) -> None:
        """run_web gives up (a crash loop) when its processes die more than
        MAX_RESTARTS_IN_WINDOW times within RESTART_WINDOW_SECONDS: wait, if
        need be, until one more death is within that budget."""
        if len(self.web_kills) < MAX_RESTARTS_IN_WINDOW:
            return
        oldest = self.web_kills[-MAX_RESTARTS_IN_WINDOW]
        wait_until(lambda: time.monotonic() - oldest > RESTART_WINDOW_SECONDS + 2,
                   timeout=RESTART_WINDOW_SECONDS + 5, what="run_web's restart budget", interval=0.2)

    def _clients_ok(self) -> bool:
        for client in self.clients:
            client.check()
        return True


@pytest.mark.timeout(240)  # the whole run's limit is 300 s a test (pytest.ini)
def test_kills_in_turn_under_batch_and_amend_load_lose_and_duplicate_nothing(run_web_stack):
    stack = run_web_stack
    ledger = Ledger()
    alice, bob = Trader(stack, "alice", HTTP_TIMEOUT), Trader(stack, "bob", HTTP_TIMEOUT)
    makers = [Maker(alice, ledger, BTC, 1), Maker(bob, ledger, ETH, 2)]
    takers = [Taker(bob, ledger, BTC, 3), Taker(alice, ledger, ETH, 4)]
    clients = [Client(f"maker-{m.market.base}", m.step) for m in makers]
    clients += [Client(f"taker-{t.market.base}", t.step) for t in takers]
    killer = Killer(stack, ledger, clients)

    for client in clients:
        client.start()
    try:
        while len(killer.kills) < KILLS:
            killer.kill_next()
        target = ledger.answered() + ANSWERS_BETWEEN_KILLS  # and the stack works on once all are back
        wait_until(lambda: ledger.answered() >= target, timeout=60, what="answers after the last kill",
                   on_timeout=stack.logs)
    finally:
        for client in clients:
            client.stopping.set()
        for client in clients:
            client.join(timeout=RETRY_SECONDS + 2 * HTTP_TIMEOUT)
    for client in clients:
        assert not client.is_alive(), f"client {client.name} did not stop"
        client.check()

    assert sorted(set(killer.kills)) == sorted(VICTIMS) and len(killer.kills) == KILLS
    assert stack.processes["web"].alive() and len(stack.web_processes()) == 2
    assert not ledger.server_errors(), ledger.answers
    # The load was what it claims to be: batches that borrowed, amends applied,
    # answers lost to the kills and orders sent again.
    assert ledger.count("BATCH", 201) > 20, ledger.answers
    assert sum(amend.status == 200 for amend in ledger.amends) > 10, ledger.answers
    lost = sum(n for (kind, status), n in ledger.answers.items() if status == LOST)
    assert lost >= 1 and max(ledger.sends.values()) > 1, ledger.answers
    db = stack.db
    assert db.scalar("SELECT count(*) FROM matching_enginecommand WHERE borrowed > 0") > 10
    assert db.scalar("SELECT count(*) FROM orders_trade") > 20, "the load should trade"

    # A killed worker's task is redelivered only after the broker's visibility
    # timeout; the sweeper queues again what is left unsettled.
    stack.wait_until_quiet()
    db.env["SETTLEMENT_SWEEP_AGE_SECONDS"] = "0"
    db.manage("shell", "-c", "from settlement.tasks import sweep_unsettled; sweep_unsettled()")
    assert_consistent(stack, ledger)  # includes verify_book and waiting for settlement
    reconcile = db.manage("reconcile", check=False)
    assert reconcile.returncode == 0, f"reconcile failed:\n{reconcile.stdout}\n{reconcile.stderr}"
