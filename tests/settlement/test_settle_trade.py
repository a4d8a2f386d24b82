"""settlement.trades.settle_trade and the settlement task with a batch of one
trade: exactly once, fees to the fee account, retries that end in FAILED, and
the sweeper. Batches of many: test_settle_trades.py."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from celery.signals import task_retry
from django.utils import timezone

from orders.models import Order, Trade
from settlement import services, tasks, trades
from settlement.models import LedgerEntry
from settlement.selectors import settlement_queue_stats
from tests.factories import place
from tests.support.matcher import process
from tests.support.state import balance, fee_account
from tradeengine.celery import app as celery_app

D = Decimal
pytestmark = pytest.mark.django_db


def pending_trade(buy: Order, sell: Order, quantity: str, price: str, *, age_seconds: float = 0) -> Trade:
    """A trade as the matcher stores it whose settlement message never arrived
    (Redis lost it, or the matcher died before handing it over)."""
    quantity, price = D(quantity), D(price)
    return Trade.objects.create(
        symbol=buy.symbol,
        sequence=(Trade.objects.filter(symbol=buy.symbol).count() + 1000),
        price=price,
        quantity=quantity,
        quote_quantity=price * quantity,
        taker_side="BUY",
        maker_order=sell,
        taker_order=buy,
        buyer=buy.user,
        seller=sell.user,
        buyer_fee=D("0.001"),
        seller_fee=D("1"),
        executed_at=timezone.now() - timedelta(seconds=age_seconds),
    )


def ledger_lines(trade: Trade) -> int:
    return LedgerEntry.objects.filter(reference=f"trade:{trade.id}").count()


# -- exactly once ------------------------------------------------------------------


def test_a_duplicate_task_delivery_settles_nothing_more(symbol, alice, bob):
    place(alice, symbol, "SELL", "1", "50000.00")
    place(bob, symbol, "BUY", "1", "50000.00")
    process(symbol)  # the matcher's own hand-off settles the trade (eager Celery)
    trade = Trade.objects.get()
    balances = (balance(alice, "USDT"), balance(alice, "BTC"), balance(bob, "USDT"), balance(bob, "BTC"))

    assert tasks.settle_trades.delay([trade.id]).get() == 0
    assert tasks.settle_trades.delay([trade.id]).get() == 0

    assert ledger_lines(trade) == 6
    assert (balance(alice, "USDT"), balance(alice, "BTC"), balance(bob, "USDT"), balance(bob, "BTC")) == balances


def test_settling_the_same_trade_twice_posts_its_ledger_lines_once(symbol, alice, bob):
    buy = place(bob, symbol, "BUY", "1", "50000.00")
    sell = place(alice, symbol, "SELL", "1", "50000.00")
    trade = pending_trade(buy, sell, "1", "50000")

    assert trades.settle_trade(trade_id=trade.id) is True
    assert trades.settle_trade(trade_id=trade.id) is False

    trade.refresh_from_db()
    assert trade.settlement_status == "SETTLED" and trade.settled_at is not None
    assert ledger_lines(trade) == 6
    assert balance(bob, "USDT") == (D("950000"), D("0"))
    assert balance(alice, "BTC") == (D("99"), D("0"))


def test_fees_are_credited_to_the_fee_account_in_the_asset_each_side_receives(symbol, alice, bob):
    place(alice, symbol, "SELL", "2", "50000.00")  # maker: 0.1% of the quote it receives
    place(bob, symbol, "BUY", "2", "50000.00")  # taker: 0.2% of the base it receives
    process(symbol)

    assert balance(fee_account(), "USDT") == (D("100"), D("0"))
    assert balance(fee_account(), "BTC") == (D("0.004"), D("0"))
    assert balance(alice, "USDT") == (D("1099900"), D("0"))
    assert balance(bob, "BTC") == (D("101.996"), D("0"))


# -- failure, retry ----------------------------------------------------------------


@pytest.fixture
def retries_run_inline():
    """Let eager Celery run the whole retry cycle (with propagation on, the
    first Retry would be raised to the caller instead)."""
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = True


@pytest.fixture
def unsettleable_trade(symbol, alice, bob, settings, retries_run_inline):
    """A trade for 5 BTC whose seller locked only 1: the balance CHECK
    constraint refuses the posting every time it is tried."""
    settings.SETTLEMENT_MAX_RETRIES = 2
    buy = place(bob, symbol, "BUY", "5", "50000.00")
    sell = place(alice, symbol, "SELL", "1", "50000.00")
    return pending_trade(buy, sell, "5", "50000")


def test_a_trade_that_cannot_settle_is_failed_after_the_last_retry(unsettleable_trade):
    result = tasks.settle_trades.delay([unsettleable_trade.id])

    assert result.state == "FAILURE"
    assert "balance_locked_not_negative" in str(result.result)

    unsettleable_trade.refresh_from_db()
    assert unsettleable_trade.settlement_status == "FAILED"
    assert "balance_locked_not_negative" in unsettleable_trade.settlement_error
    assert ledger_lines(unsettleable_trade) == 0


def test_settlement_is_retried_max_retries_times_before_it_fails(unsettleable_trade):
    retries = []

    def count(sender=None, **kwargs):
        retries.append(sender.name)

    task_retry.connect(count, weak=False)
    try:
        tasks.settle_trades.delay([unsettleable_trade.id])
    finally:
        task_retry.disconnect(count)

    assert retries == [tasks.settle_trades.name] * 2  # SETTLEMENT_MAX_RETRIES


def test_a_failed_settlement_leaves_every_balance_as_it_was(unsettleable_trade, alice, bob):
    before = (balance(alice, "BTC"), balance(alice, "USDT"), balance(bob, "BTC"), balance(bob, "USDT"))

    tasks.settle_trades.delay([unsettleable_trade.id])

    assert (balance(alice, "BTC"), balance(alice, "USDT"), balance(bob, "BTC"), balance(bob, "USDT")) == before


def test_a_failed_settlement_shows_in_the_queue_stats(unsettleable_trade):
    tasks.settle_trades.delay([unsettleable_trade.id])

    stats = settlement_queue_stats()
    assert (stats["pending"], stats["failed"], stats["success_rate"]) == (0, 1, 0.0)


def test_the_sweeper_skips_failed_trades(unsettleable_trade, settings):
    settings.SETTLEMENT_SWEEP_AGE_SECONDS = 0
    tasks.settle_trades.delay([unsettleable_trade.id])

    assert tasks.sweep_unsettled.delay().get() == 0


def test_retrying_a_failed_settlement_settles_it_once_the_cause_is_fixed(
    unsettleable_trade, symbol, alice, django_capture_on_commit_callbacks
):
    tasks.settle_trades.delay([unsettleable_trade.id])
    place(alice, symbol, "SELL", "4", "60000.00")  # alice's lock now covers the 5 BTC

    with django_capture_on_commit_callbacks(execute=True):
        assert services.retry_failed_settlements(trade_ids=[unsettleable_trade.id]) == 1

    unsettleable_trade.refresh_from_db()
    assert (unsettleable_trade.settlement_status, unsettleable_trade.settlement_error) == ("SETTLED", "")
    assert ledger_lines(unsettleable_trade) == 6
    assert settlement_queue_stats()["failed"] == 0


def test_retrying_ignores_trades_that_are_not_failed(symbol, alice, bob, django_capture_on_commit_callbacks):
    place(alice, symbol, "SELL", "1", "50000.00")
    place(bob, symbol, "BUY", "1", "50000.00")
    process(symbol)
    trade = Trade.objects.get()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.retry_failed_settlements(trade_ids=[trade.id]) == 0

    assert callbacks == []


# -- the sweeper -------------------------------------------------------------------


def test_the_sweeper_requeues_old_pending_trades_and_leaves_fresh_ones(symbol, alice, bob, settings):
    settings.SETTLEMENT_SWEEP_AGE_SECONDS = 30
    buy = place(bob, symbol, "BUY", "2", "50000.00")
    sell = place(alice, symbol, "SELL", "2", "50000.00")
    old = pending_trade(buy, sell, "1", "50000", age_seconds=120)
    fresh = pending_trade(buy, sell, "1", "50000", age_seconds=1)

    assert tasks.sweep_unsettled.delay().get() == 1

    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.settlement_status, fresh.settlement_status) == ("SETTLED", "PENDING")
    assert (ledger_lines(old), ledger_lines(fresh)) == (6, 0)


def test_sweeping_twice_settles_a_trade_once(symbol, alice, bob, settings):
    settings.SETTLEMENT_SWEEP_AGE_SECONDS = 30
    buy = place(bob, symbol, "BUY", "1", "50000.00")
    sell = place(alice, symbol, "SELL", "1", "50000.00")
    old = pending_trade(buy, sell, "1", "50000", age_seconds=120)

    assert tasks.sweep_unsettled.delay().get() == 1
    assert tasks.sweep_unsettled.delay().get() == 0
    assert ledger_lines(old) == 6


# -- messages queued one trade per task --------------------------------------------


def test_a_single_trade_task_still_settles_its_trade_once(symbol, alice, bob):
    buy = place(bob, symbol, "BUY", "1", "50000.00")
    sell = place(alice, symbol, "SELL", "1", "50000.00")
    trade = pending_trade(buy, sell, "1", "50000")

    assert tasks.settle_trade.delay(trade.id).get() is True
    assert tasks.settle_trade.delay(trade.id).get() is False
    assert ledger_lines(trade) == 6
