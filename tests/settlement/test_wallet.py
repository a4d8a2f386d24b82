"""Settlement posted to the wallet service: the fake wallet runs as a real
process on a free port, killed and restarted as the tests need."""

from __future__ import annotations

import secrets
import socket
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from core.redis import get_redis
from orders.models import Trade
from settlement import trades, wallet
from settlement.circuit_breaker import CLOSED, HALF_OPEN, OPEN
from settlement.models import LedgerEntry
from tests.factories import place
from tests.support.fake_wallet import FakeWalletProcess
from tests.support.polling import wait_until

pytestmark = pytest.mark.django_db
D = Decimal
RESET_SECONDS = 0.5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fake_wallet(tmp_path, settings):
    process = FakeWalletProcess(free_port(), tmp_path / "wallet.json", tmp_path / "wallet.log").start()
    key = f"test:breaker:{secrets.token_hex(6)}"
    settings.WALLET_SERVICE_URL = process.url
    settings.WALLET_TIMEOUT_SECONDS = 1.0
    settings.WALLET_BREAKER_FAILURE_THRESHOLD = 2
    settings.WALLET_BREAKER_RESET_SECONDS = RESET_SECONDS
    settings.WALLET_BREAKER_KEY = key
    yield process
    process.kill()
    get_redis().delete(key, f"{key}:trial")


@pytest.fixture
def trade(symbol, alice, bob) -> Trade:
    """A trade as the matcher stores it, waiting for settlement."""
    buy = place(bob, symbol, "BUY", "1", "50000.00")
    sell = place(alice, symbol, "SELL", "1", "50000.00")
    return Trade.objects.create(
        symbol=symbol, sequence=1000 + Trade.objects.count(), price=D("50000"), quantity=D("1"),
        quote_quantity=D("50000"), taker_side="BUY", maker_order=sell, taker_order=buy,
        buyer=bob, seller=alice, buyer_fee=D("0.001"), seller_fee=D("50"), executed_at=timezone.now(),
    )


def ledger_lines(trade: Trade) -> int:
    return LedgerEntry.objects.filter(reference=f"trade:{trade.id}").count()


def status_of(trade: Trade) -> str:
    trade.refresh_from_db()
    return trade.settlement_status


def wait_for_breaker(state: str, timeout: float = 5.0) -> None:
    wait_until(lambda: wallet.wallet_status()["state"] == state, timeout=timeout, interval=0.02,
               what=f"the breaker to become {state}", on_timeout=lambda: str(wallet.wallet_status()))


def test_settling_posts_the_trade_to_the_wallet_under_its_idempotency_key(fake_wallet, trade):
    assert trades.settle_trade(trade_id=trade.id) is True

    recorded = fake_wallet.recorded()
    assert (recorded["count"], recorded["duplicates"]) == (1, 0)
    posting = recorded["settlements"][0]
    assert posting["key"] == f"trade:{trade.id}"
    assert posting["body"] | {"executed_at": None} == {
        "trade_id": trade.id, "symbol": "BTC/USDT", "price": "50000", "quantity": "1", "quote_quantity": "50000",
        "buyer_id": trade.buyer_id, "seller_id": trade.seller_id, "buyer_fee": "0.001", "buyer_fee_asset": "BTC",
        "seller_fee": "50", "seller_fee_asset": "USDT", "executed_at": None,
    }
    assert status_of(trade) == "SETTLED" and ledger_lines(trade) == 6


def test_a_settled_trade_is_not_posted_again(fake_wallet, trade):
    trades.settle_trade(trade_id=trade.id)
    assert trades.settle_trade(trade_id=trade.id) is False
    assert (fake_wallet.recorded()["count"], fake_wallet.recorded()["duplicates"]) == (1, 0)
    assert ledger_lines(trade) == 6


def test_with_the_wallet_down_the_trade_stays_pending_with_no_ledger_lines(fake_wallet, trade):
    fake_wallet.kill()
    with pytest.raises(wallet.WalletUnavailable, match="unreachable"):
        trades.settle_trade(trade_id=trade.id)
    assert status_of(trade) == "PENDING"
    assert ledger_lines(trade) == 0


def test_when_the_wallet_is_back_the_waiting_trade_settles_once(fake_wallet, trade):
    fake_wallet.kill()
    with pytest.raises(wallet.WalletUnavailable):
        trades.settle_trade(trade_id=trade.id)
    fake_wallet.start()

    assert trades.settle_trade(trade_id=trade.id) is True
    assert trades.settle_trade(trade_id=trade.id) is False
    assert status_of(trade) == "SETTLED" and ledger_lines(trade) == 6
    assert [s["key"] for s in fake_wallet.recorded()["settlements"]] == [f"trade:{trade.id}"]


def test_a_worker_that_died_after_posting_posts_again_and_the_wallet_records_it_once(fake_wallet, trade):
    # The first delivery reached the wallet, then its worker died before committing.
    wallet.post_settlement(trade)
    assert status_of(trade) == "PENDING"

    assert trades.settle_trade(trade_id=trade.id) is True
    recorded = fake_wallet.recorded()
    assert (recorded["count"], recorded["duplicates"]) == (1, 1)
    assert ledger_lines(trade) == 6


def test_the_wallet_keeps_what_it_recorded_across_a_kill(fake_wallet, trade):
    trades.settle_trade(trade_id=trade.id)
    fake_wallet.kill()
    fake_wallet.start()
    wallet.post_settlement(trade)
    recorded = fake_wallet.recorded()
    assert (recorded["count"], recorded["duplicates"]) == (1, 1)


def open_the_circuit(fake_wallet, trade) -> None:
    fake_wallet.kill()
    for _ in range(2):  # the threshold
        with pytest.raises(wallet.WalletUnavailable, match="unreachable"):
            trades.settle_trade(trade_id=trade.id)
    assert wallet.wallet_status()["state"] == OPEN
    fake_wallet.start()


def test_while_the_circuit_is_open_settlements_do_not_reach_the_wallet(fake_wallet, trade, settings):
    settings.WALLET_BREAKER_RESET_SECONDS = 30
    open_the_circuit(fake_wallet, trade)
    with pytest.raises(wallet.WalletUnavailable, match="circuit is OPEN"):
        trades.settle_trade(trade_id=trade.id)
    assert fake_wallet.recorded()["count"] == 0
    assert status_of(trade) == "PENDING" and ledger_lines(trade) == 0


def test_after_the_reset_time_a_trial_settles_and_closes_the_circuit(fake_wallet, trade):
    open_the_circuit(fake_wallet, trade)
    wait_for_breaker(HALF_OPEN)
    assert trades.settle_trade(trade_id=trade.id) is True
    assert wallet.wallet_status()["state"] == CLOSED
    assert fake_wallet.recorded()["count"] == 1


def test_a_wallet_refusal_is_not_counted_as_the_wallet_being_down(fake_wallet, trade, settings):
    settings.WALLET_SERVICE_URL = f"{fake_wallet.url}/no-such-path"  # the fake answers 404
    for _ in range(3):
        with pytest.raises(wallet.WalletRejected):
            trades.settle_trade(trade_id=trade.id)
    assert wallet.wallet_status()["state"] == CLOSED
    assert status_of(trade) == "PENDING"


def test_wallet_status_and_metrics_show_the_open_circuit(fake_wallet, trade, client):
    healthy = wallet.wallet_status()
    assert (healthy["enabled"], healthy["status"], healthy["state"], healthy["url"]) == (True, "ok", CLOSED, fake_wallet.url)
    fake_wallet.kill()
    for _ in range(2):
        with pytest.raises(wallet.WalletUnavailable):
            trades.settle_trade(trade_id=trade.id)

    status = wallet.wallet_status()
    assert (status["enabled"], status["status"], status["failures"]) == (True, "degraded", 2)
    assert status["state"] in (OPEN, HALF_OPEN)
    body = client.get("/metrics").content.decode()
    assert "wallet_service_enabled 1.0" in body
    assert f'wallet_breaker_state{{state="{status["state"]}"}} 1.0' in body
    assert "wallet_breaker_failures 2.0" in body


def test_without_a_wallet_service_settlement_posts_nothing(trade, settings):
    settings.WALLET_SERVICE_URL = ""
    assert wallet.wallet_status()["enabled"] is False
    assert trades.settle_trade(trade_id=trade.id) is True
    assert ledger_lines(trade) == 6


def test_a_trade_executed_long_ago_is_posted_with_its_execution_time(fake_wallet, trade):
    trade.executed_at = timezone.now() - timedelta(days=1)
    trade.save(update_fields=["executed_at"])
    trades.settle_trade(trade_id=trade.id)
    assert fake_wallet.recorded()["settlements"][0]["body"]["executed_at"] == trade.executed_at.isoformat()


# -- batches -------------------------------------------------------------------


@pytest.fixture
def two_trades(trade, symbol, alice, bob) -> list[Trade]:
    """`trade` and another like it, both waiting for settlement."""
    buy = place(bob, symbol, "BUY", "1", "50000.00")
    sell = place(alice, symbol, "SELL", "1", "50000.00")
    other = Trade.objects.create(
        symbol=symbol, sequence=2000, price=D("50000"), quantity=D("1"), quote_quantity=D("50000"),
        taker_side="BUY", maker_order=sell, taker_order=buy, buyer=bob, seller=alice,
        buyer_fee=D("0.001"), seller_fee=D("50"), executed_at=timezone.now(),
    )
    return [trade, other]


def test_a_batch_posts_each_unsettled_trade_to_the_wallet_under_its_own_key(fake_wallet, two_trades):
    first, second = two_trades
    trades.settle_trade(trade_id=first.id)

    assert trades.settle_trades(trade_ids=[first.id, second.id]) == [second.id]

    recorded = fake_wallet.recorded()
    assert sorted(s["key"] for s in recorded["settlements"]) == sorted([f"trade:{first.id}", f"trade:{second.id}"])
    assert recorded["duplicates"] == 0  # the settled trade was not posted again
    assert [ledger_lines(t) for t in two_trades] == [6, 6]


def test_with_the_wallet_down_a_batch_waits_whole(fake_wallet, two_trades):
    fake_wallet.kill()
    with pytest.raises(wallet.WalletUnavailable, match="unreachable"):
        trades.settle_trades(trade_ids=[t.id for t in two_trades])
    assert [status_of(t) for t in two_trades] == ["PENDING", "PENDING"]
    assert [ledger_lines(t) for t in two_trades] == [0, 0]
