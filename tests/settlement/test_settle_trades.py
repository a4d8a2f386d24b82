"""Settling trades by the batch (settlement.trades.settle_trades and the
settle_trades task): one transaction and a constant number of statements per
batch, exactly once per trade across duplicate and overlapping deliveries, a
poisoned trade isolated, and every hand-off (matcher, sweeper, admin retry)
queuing batches."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from orders.models import Trade
from settlement import reconcile, services, tasks, trades
from tests.factories import place
from tests.settlement.test_settle_trade import ledger_lines, pending_trade
from tests.support.matcher import process
from tests.support.state import balance, fee_account
from tradeengine.celery import app as celery_app

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def held_settlement(monkeypatch) -> list[int]:
    """Hold back the matcher's hand-off of trades to Celery; the trade ids
    collect in the returned list."""
    from matching import host

    held: list[int] = []
    monkeypatch.setattr(host, "enqueue_settlement", held.extend)
    return held


@pytest.fixture
def five_trades(symbol, alice, bob, held_settlement) -> list[int]:
    """Five trades the matcher wrote (bob's buy sweeps five of alice's
    sells), not yet settled."""
    for price in ("50000.00", "50010.00", "50020.00", "50030.00", "50040.00"):
        place(alice, symbol, "SELL", "1", price)
    place(bob, symbol, "BUY", "5", "50040.00")
    process(symbol)
    assert len(held_settlement) == 5
    return sorted(held_settlement)


def statuses(trade_ids: list[int]) -> list[str]:
    return list(Trade.objects.filter(id__in=trade_ids).order_by("id").values_list("settlement_status", flat=True))


def assert_reconciles() -> None:
    failed = {result.name: result.mismatches for result in reconcile.run_all() if not result.ok}
    assert not failed


def everyone(*users) -> tuple:
    return tuple(balance(user, asset) for user in users for asset in ("BTC", "USDT"))


# -- one batch ---------------------------------------------------------------------


def test_a_batch_settles_every_trade_and_the_ledger_reconciles(five_trades, alice, bob):
    assert_reconciles()  # pending: the funds stay locked, accounted to the trades

    assert tasks.settle_trades.delay(five_trades).get() == 5

    assert statuses(five_trades) == ["SETTLED"] * 5
    assert [ledger_lines(Trade(id=trade_id)) for trade_id in five_trades] == [6] * 5
    quote = sum(D(p) for p in ("50000", "50010", "50020", "50030", "50040"))
    assert balance(bob, "BTC") == (D("100") + D("5") - D("0.010"), D("0"))  # taker fee 0.2% of the base
    assert balance(alice, "USDT")[0] == D("1000000") + quote - quote * D("0.001")
    assert balance(fee_account(), "USDT") == (quote * D("0.001"), D("0"))
    assert balance(fee_account(), "BTC") == (D("0.010"), D("0"))
    assert_reconciles()


def test_a_batch_takes_as_many_statements_as_a_batch_of_two(symbol, alice, bob):
    buy = place(bob, symbol, "BUY", "10", "50000.00")
    sell = place(alice, symbol, "SELL", "10", "50000.00")
    two = [pending_trade(buy, sell, "1", "50000").id for _ in range(2)]
    eight = [pending_trade(buy, sell, "1", "50000").id for _ in range(8)]
    trades.fee_account_id()  # created once, before counting

    with CaptureQueriesContext(connection) as small:
        assert len(trades.settle_trades(trade_ids=two)) == 2
    with CaptureQueriesContext(connection) as large:
        assert len(trades.settle_trades(trade_ids=eight)) == 8

    assert len(large.captured_queries) == len(small.captured_queries)


def test_a_failing_batch_settles_none_of_its_trades(symbol, alice, bob):
    buy = place(bob, symbol, "BUY", "6", "50000.00")
    sell = place(alice, symbol, "SELL", "1", "50000.00")
    good = pending_trade(buy, sell, "1", "50000")
    bad = pending_trade(buy, sell, "5", "50000")  # alice locked 1 BTC, not 6
    before = everyone(alice, bob)

    with pytest.raises(Exception, match="balance_locked_not_negative"):
        trades.settle_trades(trade_ids=[good.id, bad.id])

    assert statuses([good.id, bad.id]) == ["PENDING", "PENDING"]
    assert (ledger_lines(good), ledger_lines(bad)) == (0, 0)
    assert everyone(alice, bob) == before


# -- exactly once ------------------------------------------------------------------


def test_a_duplicate_delivery_of_a_batch_changes_nothing(five_trades, alice, bob):
    tasks.settle_trades.delay(five_trades).get()
    after_first = everyone(alice, bob, fee_account())

    assert tasks.settle_trades.delay(five_trades).get() == 0

    assert everyone(alice, bob, fee_account()) == after_first
    assert [ledger_lines(Trade(id=trade_id)) for trade_id in five_trades] == [6] * 5
    assert_reconciles()


def test_overlapping_batches_settle_each_trade_once(five_trades, alice, bob):
    first, second = five_trades[:3], five_trades[1:]

    assert tasks.settle_trades.delay(first).get() == 3
    assert tasks.settle_trades.delay(second).get() == 2

    assert statuses(five_trades) == ["SETTLED"] * 5
    assert [ledger_lines(Trade(id=trade_id)) for trade_id in five_trades] == [6] * 5
    assert_reconciles()


def test_already_settled_trades_in_a_batch_are_skipped(five_trades, alice, bob):
    assert trades.settle_trade(trade_id=five_trades[2]) is True

    assert trades.settle_trades(trade_ids=five_trades) == five_trades[:2] + five_trades[3:]

    assert [ledger_lines(Trade(id=trade_id)) for trade_id in five_trades] == [6] * 5
    assert_reconciles()


@pytest.mark.django_db(transaction=True)
def test_overlapping_batches_in_two_workers_at_once_settle_each_trade_once(symbol, alice, bob):
    buy = place(bob, symbol, "BUY", "20", "50000.00")
    sell = place(alice, symbol, "SELL", "20", "50000.00")
    ids = [pending_trade(buy, sell, "1", "50000").id for _ in range(20)]
    start = threading.Barrier(2)
    settled: list[list[int]] = []
    errors: list[BaseException] = []

    def worker(batch: list[int]) -> None:
        try:
            start.wait(timeout=10)
            settled.append(trades.settle_trades(trade_ids=batch))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(batch,)) for batch in (ids[:15], ids[5:][::-1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(trade_id for batch in settled for trade_id in batch) == ids
    assert [ledger_lines(Trade(id=trade_id)) for trade_id in ids] == [6] * 20
    assert balance(alice, "BTC") == (D("80"), D("0"))


# -- a poisoned trade --------------------------------------------------------------


@pytest.fixture
def retries_run_inline(settings):
    """Let eager Celery run the whole retry cycle (with propagation on, the
    first Retry would be raised to the caller instead)."""
    settings.SETTLEMENT_MAX_RETRIES = 2
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = True


def test_a_poisoned_trade_fails_alone_and_the_rest_of_its_batch_settles(symbol, alice, bob, retries_run_inline):
    buy = place(bob, symbol, "BUY", "12", "50000.00")
    sell = place(alice, symbol, "SELL", "6", "50000.00")
    good = [pending_trade(buy, sell, "1", "50000") for _ in range(3)]
    poisoned = pending_trade(buy, sell, "5", "50000")  # alice's lock cannot cover it after the others
    good += [pending_trade(buy, sell, "1", "50000") for _ in range(2)]
    batch = [trade.id for trade in good[:3]] + [poisoned.id] + [trade.id for trade in good[3:]]

    tasks.settle_trades.delay(batch)

    assert statuses([trade.id for trade in good]) == ["SETTLED"] * 5
    assert [ledger_lines(trade) for trade in good] == [6] * 5
    poisoned.refresh_from_db()
    assert poisoned.settlement_status == "FAILED"
    assert "balance_locked_not_negative" in poisoned.settlement_error
    assert ledger_lines(poisoned) == 0
    assert balance(alice, "BTC") == (D("94"), D("1"))  # 5 of the 6 locked delivered


def test_a_batch_that_keeps_failing_ends_failed_after_the_last_retry(symbol, alice, bob, retries_run_inline):
    buy = place(bob, symbol, "BUY", "5", "50000.00")
    sell = place(alice, symbol, "SELL", "1", "50000.00")
    poisoned = pending_trade(buy, sell, "5", "50000")

    result = tasks.settle_trades.delay([poisoned.id])

    assert result.state == "FAILURE"
    assert statuses([poisoned.id]) == ["FAILED"]


def test_giving_up_marks_only_the_trades_still_pending(five_trades):
    trades.settle_trades(trade_ids=five_trades[:2])

    assert trades.mark_settlement_failed(trade_ids=five_trades, error="boom") == 3

    assert statuses(five_trades) == ["SETTLED"] * 2 + ["FAILED"] * 3


# -- hand-offs queue batches -------------------------------------------------------


@pytest.fixture
def queued(monkeypatch) -> list[list[int]]:
    """The batches handed to settle_trades, instead of running them."""
    sent: list[list[int]] = []
    monkeypatch.setattr(tasks.settle_trades, "delay", lambda trade_ids: sent.append(list(trade_ids)))
    return sent


def test_the_matcher_hand_off_is_one_task_per_batch_cut_at_the_batch_size(queued):
    services.enqueue_settlement(list(range(1, 1201)))

    assert [len(batch) for batch in queued] == [500, 500, 200]
    assert [trade_id for batch in queued for trade_id in batch] == list(range(1, 1201))


def test_a_matcher_batch_is_settled_by_one_task(symbol, alice, bob, queued):
    place(alice, symbol, "SELL", "1", "50000.00")
    place(alice, symbol, "SELL", "1", "50010.00")
    place(bob, symbol, "BUY", "2", "50010.00")

    process(symbol)

    assert queued == [sorted(Trade.objects.values_list("id", flat=True))]


def test_the_sweeper_queues_old_pending_trades_in_batches(symbol, alice, bob, settings, monkeypatch, queued):
    settings.SETTLEMENT_SWEEP_AGE_SECONDS = 30
    monkeypatch.setattr(tasks, "BATCH_SIZE", 2)
    buy = place(bob, symbol, "BUY", "4", "50000.00")
    sell = place(alice, symbol, "SELL", "4", "50000.00")
    old = [pending_trade(buy, sell, "1", "50000", age_seconds=120).id for _ in range(3)]
    pending_trade(buy, sell, "1", "50000", age_seconds=1)

    assert tasks.sweep_unsettled() == 3

    assert queued == [old[:2], old[2:]]


def test_retrying_failed_settlements_queues_them_as_one_batch(
    symbol, alice, bob, queued, django_capture_on_commit_callbacks
):
    buy = place(bob, symbol, "BUY", "2", "50000.00")
    sell = place(alice, symbol, "SELL", "2", "50000.00")
    failed = [pending_trade(buy, sell, "1", "50000").id for _ in range(2)]
    Trade.objects.filter(id__in=failed).update(settlement_status="FAILED", settlement_error="boom")

    with django_capture_on_commit_callbacks(execute=True):
        assert services.retry_failed_settlements(trade_ids=failed) == 2

    assert queued == [failed]
    assert statuses(failed) == ["PENDING", "PENDING"]
