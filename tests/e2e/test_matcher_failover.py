"""Two real matcher processes: a standby that takes over, and symbols sharded.

A standby matcher waits on the owner's advisory locks; kill -9 the owner and
the standby takes the symbols and matches on, losing nothing. Two matchers
started with `--symbols` each own their own symbol; killing one stops only
that symbol, and restarting it drains the backlog. In both, the stored book
equals a replay of the journal and the money reconciles.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from tests.support.exchange_client import Ledger, Trader, assert_consistent
from tests.support.polling import wait_until

pytestmark = pytest.mark.e2e

ADVISORY_NAMESPACE = 7_340_001  # matching.management.commands.run_matcher
TAKEOVER_TARGET_SECONDS = 2.0
TAKEOVER_BOUND_SECONDS = 10.0  # what a loaded two-core machine cannot miss
MARKETS = {
    # symbol: (price of the stream in ticks, tick, quantity per order)
    "BTC/USDT": (5_000_000, Decimal("0.01"), Decimal("0.001")),
    "ETH/USDT": (300_000, Decimal("0.01"), Decimal("0.01")),
}


class Crosser:
    """Places a resting sell for alice, then bob's buy that crosses it."""

    def __init__(self, stack, ledger: Ledger, prefix: str) -> None:
        self.alice = Trader(stack, "alice")
        self.bob = Trader(stack, "bob")
        self.ledger = ledger
        self.prefix = prefix
        self.n = 0

    def order(self, trader: Trader, symbol: str, side: str, ticks: int, quantity: Decimal | None = None):
        _, tick, default_quantity = MARKETS[symbol]
        self.n += 1
        body = {
            "symbol": symbol, "side": side, "type": "LIMIT", "price": str(ticks * tick),
            "quantity": str(quantity or default_quantity), "client_order_id": f"{self.prefix}-{self.n}",
        }
        return self.ledger.place(trader, body)

    def cross(self, symbol: str, offset: int = 0):
        """The buy's response: 201 FILLED while a matcher owns the symbol."""
        mid = MARKETS[symbol][0]
        self.order(self.alice, symbol, "SELL", mid + offset)
        return self.order(self.bob, symbol, "BUY", mid + offset)


class Stream(threading.Thread):
    """Crossing pairs on one symbol until stopped; the first error is kept."""

    def __init__(self, crosser: Crosser, symbol: str) -> None:
        super().__init__(daemon=True)
        self.crosser = crosser
        self.symbol = symbol
        self.stopping = threading.Event()
        self.error: BaseException | None = None
        self.pairs = 0

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                self.crosser.cross(self.symbol, offset=self.pairs % 100)
                self.pairs += 1
        except BaseException as exc:  # re-raised in the test's thread by stop()
            self.error = exc

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=60)
        assert not self.is_alive(), "the order stream did not stop"
        if self.error is not None:
            raise self.error


def owners(db) -> dict[str, str]:
    return dict(db.query(
        "SELECT s.name, m.owner FROM matching_matcherstate m JOIN riskadmin_symbol s ON s.id = m.symbol_id"
    ))


def owned_by(db, process) -> set[str]:
    return {name for name, owner in owners(db).items() if owner.endswith(f":{process.pid}")}


def lock_holders(db) -> dict[int, int]:
    """Symbol id -> the database backend holding its advisory lock."""
    return dict(db.query(
        "SELECT objid::bigint, pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND classid = %s AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (ADVISORY_NAMESPACE,),
    ))


def order_status(db, client_order_id: str) -> str | None:
    rows = db.query("SELECT status FROM orders_order WHERE client_order_id = %s", (client_order_id,))
    return rows[0][0] if rows else None


def assert_clean(stack, ledger: Ledger) -> None:
    assert_consistent(stack, ledger)
    reconcile = stack.db.manage("reconcile", check=False)
    assert reconcile.returncode == 0, f"reconcile failed:\n{reconcile.stdout}\n{reconcile.stderr}"


def test_standby_matcher_takes_over_when_the_owner_is_killed(stack):
    db = stack.db
    symbols = set(MARKETS)
    matcher_a = stack.processes["matcher"]
    matcher_b = stack.start_matcher("matcher-b", standby=True)
    assert owned_by(db, matcher_a) == symbols
    assert owned_by(db, matcher_b) == set()
    holders = lock_holders(db)
    assert len(holders) == len(symbols) and len(set(holders.values())) == 1, holders
    owner_backend = next(iter(holders.values()))

    ledger = Ledger()
    crosser = Crosser(stack, ledger, "probe")
    mid = MARKETS["BTC/USDT"][0]
    # Liquidity above the stream's prices, for the buy placed after the kill.
    assert crosser.order(crosser.alice, "BTC/USDT", "SELL", mid + 5000, Decimal("0.01")).status_code == 201
    stream = Stream(Crosser(stack, ledger, "stream"), "BTC/USDT")
    stream.start()
    try:
        wait_until(lambda: stream.pairs >= 10 or stream.error, timeout=30, what="the stream to trade")

        killed_at = time.monotonic()
        stack.kill("matcher")
        probe_id = f"probe-{crosser.n + 1}"
        probe = ThreadPoolExecutor(max_workers=1)
        placed = probe.submit(crosser.order, crosser.bob, "BTC/USDT", "BUY", mid + 5000)
        seen: dict[str, float] = {}

        def taken_over() -> bool:
            now = time.monotonic() - killed_at
            if "owned" not in seen and owned_by(db, matcher_b) == symbols:
                seen["owned"] = now
            if "filled" not in seen and order_status(db, probe_id) == "FILLED":
                seen["filled"] = now
            return len(seen) == 2

        wait_until(taken_over, timeout=TAKEOVER_BOUND_SECONDS, what="matcher B to take over", interval=0.02,
                   on_timeout=stack.logs)
        takeover = max(seen.values())
        print(f"\nstandby takeover: symbols owned {seen['owned']:.3f} s, crossing order filled {seen['filled']:.3f} s"
              f" after kill -9 (target < {TAKEOVER_TARGET_SECONDS} s)")
        assert placed.result(timeout=30).status_code in (201, 202)
        probe.shutdown()

        pairs_after = stream.pairs
        wait_until(lambda: stream.pairs >= pairs_after + 10 or stream.error, timeout=30, what="more trades with matcher B")
    finally:
        stream.stop()

    holders = lock_holders(db)
    assert len(holders) == len(symbols) and set(holders.values()) != {owner_backend}, holders
    assert len(set(holders.values())) == 1, holders
    assert takeover < TAKEOVER_BOUND_SECONDS
    assert_clean(stack, ledger)
    assert db.scalar("SELECT count(*) FROM orders_trade") >= 20


def test_two_matchers_shard_the_symbols(bare_stack):
    stack, db = bare_stack, bare_stack.db
    btc = stack.start_matcher("matcher-btc", symbols=["BTC/USDT"])
    eth = stack.start_matcher("matcher-eth", symbols=["ETH/USDT"])
    assert owned_by(db, btc) == {"BTC/USDT"}
    assert owned_by(db, eth) == {"ETH/USDT"}
    assert len(set(lock_holders(db).values())) == 2

    ledger = Ledger()
    crosser = Crosser(stack, ledger, "shard")
    for symbol in MARKETS:
        for _ in range(3):
            buy = crosser.cross(symbol)
            assert (buy.status_code, buy.json()["status"]) == (201, "FILLED"), (symbol, buy.text)

    stack.kill("matcher-eth")
    sell = crosser.order(crosser.alice, "ETH/USDT", "SELL", MARKETS["ETH/USDT"][0])
    buy = crosser.order(crosser.bob, "ETH/USDT", "BUY", MARKETS["ETH/USDT"][0])
    for response in (sell, buy):
        assert (response.status_code, response.json()["status"]) == (202, "PENDING"), response.text
    for _ in range(3):
        other = crosser.cross("BTC/USDT")
        assert (other.status_code, other.json()["status"]) == (201, "FILLED"), other.text
    assert owned_by(db, btc) == {"BTC/USDT"}
    assert len(lock_holders(db)) == 1

    stack.start_matcher("matcher-eth", symbols=["ETH/USDT"])
    wait_until(lambda: order_status(db, buy.json()["client_order_id"]) == "FILLED", timeout=30,
               what="the restarted matcher to drain ETH/USDT", on_timeout=stack.logs)
    assert order_status(db, sell.json()["client_order_id"]) == "FILLED"
    again = crosser.cross("ETH/USDT")
    assert (again.status_code, again.json()["status"]) == (201, "FILLED"), again.text
    assert_clean(stack, ledger)
