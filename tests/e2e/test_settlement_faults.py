"""Settlement under faults, with real processes: daphne, the matcher, Celery
workers and the fake wallet service, killed with -9 while they work.

Afterwards every trade is SETTLED exactly once: the wallet recorded each
trade id once, the ledger holds each trade's lines once, and each asset's
balances still add up to what was deposited.
"""

from __future__ import annotations

import itertools
import re

import pytest
import requests

from tests.support.fake_wallet import FakeWalletProcess
from tests.support.polling import wait_until

from .conftest import REDIS_URL, SEEDED_TOTALS, free_port

pytestmark = pytest.mark.e2e

SYMBOL = "BTC/USDT"
HTTP_TIMEOUT = 30
RESET_SECONDS = 2
_orders = itertools.count(1)


def wallet_fixture(tmp_path, **options) -> FakeWalletProcess:
    log_dir = tmp_path / "logs"
    log_dir.mkdir(exist_ok=True)
    return FakeWalletProcess(free_port(), tmp_path / "wallet.json", log_dir / "fake-wallet.log", **options)


def wallet_env(fake: FakeWalletProcess, **extra: str) -> dict[str, str]:
    return {
        "WALLET_SERVICE_URL": fake.url,
        "WALLET_TIMEOUT_SECONDS": "2",
        "WALLET_BREAKER_FAILURE_THRESHOLD": "2",
        "WALLET_BREAKER_RESET_SECONDS": str(RESET_SECONDS),
        **extra,
    }


class Traders:
    """alice sells, bob buys at the same price: every pair is one trade."""

    def __init__(self, stack) -> None:
        self.url = f"{stack.base_url}/api/v1/orders"
        self.headers = {name: {"Authorization": f"Bearer {stack.token(name)}"} for name in ("alice", "bob")}

    def place(self, username: str, side: str) -> requests.Response:
        body = {"symbol": SYMBOL, "side": side, "type": "LIMIT", "quantity": "0.01", "price": "50000.00",
                "client_order_id": f"settle-{next(_orders)}"}
        return requests.post(self.url, json=body, headers=self.headers[username], timeout=HTTP_TIMEOUT)

    def trade(self) -> None:
        sell, buy = self.place("alice", "SELL"), self.place("bob", "BUY")
        assert (sell.status_code, buy.status_code) == (201, 201), (sell.text, buy.text)
        assert buy.json()["status"] == "FILLED", buy.text


def trade_ids(db, status: str | None = None) -> list[int]:
    if status is None:
        return [row[0] for row in db.query("SELECT id FROM orders_trade ORDER BY id")]
    return [row[0] for row in db.query("SELECT id FROM orders_trade WHERE settlement_status = %s ORDER BY id", (status,))]


def breaker_state(stack) -> str | None:
    """The wallet breaker's state as /metrics on the web process shows it."""
    body = requests.get(f"{stack.base_url}/metrics", timeout=HTTP_TIMEOUT).text
    match = re.search(r'^wallet_breaker_state\{state="(\w+)"\} 1\.0$', body, re.MULTILINE)
    return match.group(1) if match else None


def assert_settled_exactly_once(stack, fake: FakeWalletProcess) -> None:
    db = stack.db
    ids = trade_ids(db)
    assert ids and trade_ids(db, "SETTLED") == ids
    recorded = fake.recorded()
    assert sorted(s["key"] for s in recorded["settlements"]) == sorted(f"trade:{i}" for i in ids)
    assert recorded["count"] == len(ids)
    # Six lines per trade, less the fee lines of a zero fee; none twice.
    wrong = db.query(
        "SELECT t.id, t.buyer_fee, t.seller_fee, count(l.id) FROM orders_trade t"
        " LEFT JOIN settlement_ledgerentry l ON l.reference = 'trade:' || t.id"
        " GROUP BY t.id HAVING count(l.id) <> 4 + (t.buyer_fee > 0)::int + (t.seller_fee > 0)::int"
    )
    assert wrong == [], f"trades with the wrong number of ledger lines: {wrong}"
    totals = dict(db.query("SELECT asset, sum(available + locked) FROM settlement_balance GROUP BY asset"))
    assert totals == SEEDED_TOTALS, f"balances do not add up to the deposits: {totals}"
    assert db.query("SELECT user_id, asset FROM settlement_balance WHERE available < 0 OR locked < 0") == []


# -- the wallet killed, then back --------------------------------------------


@pytest.fixture
def fake_wallet(tmp_path, request):
    """The wallet service; parametrize indirectly with a delay (seconds
    between recording a posting and answering it) to slow it down."""
    fake = wallet_fixture(tmp_path, delay=getattr(request, "param", 0.0)).start()
    yield fake
    fake.kill()


@pytest.fixture
def stack_env(fake_wallet):
    return wallet_env(fake_wallet)


def test_trades_wait_for_a_dead_wallet_and_settle_exactly_once_when_it_is_back(stack, fake_wallet):
    db, traders = stack.db, Traders(stack)
    traders.trade()
    stack.wait_until_settled(timeout=20)

    fake_wallet.kill()
    for _ in range(6):  # matching goes on without the wallet
        traders.trade()
    assert len(trade_ids(db)) == 7
    wait_until(lambda: breaker_state(stack) == "OPEN", timeout=20, what="the wallet breaker to open", on_timeout=stack.logs)
    assert len(trade_ids(db, "PENDING")) == 6
    assert trade_ids(db, "FAILED") == []
    assert db.scalar(
        "SELECT count(*) FROM settlement_ledgerentry l JOIN orders_trade t ON l.reference = 'trade:' || t.id"
        " WHERE t.settlement_status = 'PENDING'"
    ) == 0

    fake_wallet.start()
    stack.wait_until_settled(timeout=30)
    assert_settled_exactly_once(stack, fake_wallet)
    wait_until(lambda: breaker_state(stack) == "CLOSED", timeout=10, what="the wallet breaker to close")


# -- a worker killed mid-settlement --------------------------------------------


def queued_tasks(db) -> int:
    import redis

    return redis.Redis.from_url(REDIS_URL).llen(db.env["CELERY_TASK_DEFAULT_QUEUE"])


# Each posting is answered 0.3 s after the wallet recorded it: a wide window
# in which "the wallet has it" and "the database committed it" differ.
@pytest.mark.parametrize("fake_wallet", [0.3], indirect=True, ids=["slow-wallet"])
def test_a_worker_killed_mid_settlement_loses_nothing_and_posts_nothing_twice(stack, fake_wallet):
    slow_wallet = fake_wallet
    db, traders = stack.db, Traders(stack)
    stack.kill("worker")  # the burst queues up, then one worker takes it on
    for _ in range(12):
        traders.trade()
    assert trade_ids(db, "PENDING") == trade_ids(db)
    stack.start_worker()

    def in_flight() -> bool:
        # A trade the wallet recorded whose settlement has not committed yet.
        settled = len(trade_ids(db, "SETTLED"))
        return settled >= 2 and slow_wallet.recorded()["count"] > settled

    wait_until(in_flight, timeout=30, interval=0.02, what="a settlement in flight", on_timeout=stack.logs)
    stack.kill("worker")
    recorded_at_kill, settled_at_kill = slow_wallet.recorded()["count"], len(trade_ids(db, "SETTLED"))
    assert recorded_at_kill == settled_at_kill + 1 < len(trade_ids(db))

    stack.start_worker()
    # The killed worker's message stays unacknowledged in Redis (until the
    # broker's visibility timeout); the sweeper re-queues what is left.
    wait_until(lambda: queued_tasks(db) == 0, timeout=30, what="the queue to drain", on_timeout=stack.logs)
    stack.db.env["SETTLEMENT_SWEEP_AGE_SECONDS"] = "0"
    stack.db.manage("shell", "-c", "from settlement.tasks import sweep_unsettled; sweep_unsettled()")
    stack.wait_until_settled(timeout=30)

    assert_settled_exactly_once(stack, slow_wallet)
    assert slow_wallet.recorded()["duplicates"] >= 1  # the in-flight trade was posted again, recorded once
