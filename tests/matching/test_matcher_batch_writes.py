"""How a matcher batch reaches the database: a constant number of bulk
statements however many trades it made, and a process that keeps its
loaded books out of the cyclic garbage collector's way."""

from __future__ import annotations

import gc
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from matching import host
from matching.host import Matcher
from orders.models import Fill, Trade
from settlement.models import LedgerEntry
from tests.factories import place

D = Decimal


@pytest.fixture
def settlement_handoff(monkeypatch) -> list[int]:
    """The trade ids handed to settlement; settling them (eagerly, in this
    process) is not the batch's work, so it stays out of the count."""
    handed: list[int] = []
    monkeypatch.setattr(host, "enqueue_settlement", handed.extend)
    return handed


def statements_of_sweep(symbol, maker, taker, makers: int) -> tuple[list[str], Matcher]:
    """The statements of the batch in which one buy sweeps `makers` resting
    one-lot sells and ends with quote to release."""
    matcher = Matcher([symbol.id])
    for _ in range(makers):
        place(maker, symbol, "SELL", "0.01", "100.00")
    matcher.process_batch()
    place(taker, symbol, "BUY", f"{D('0.01') * makers}", "101.00")
    with CaptureQueriesContext(connection) as queries:
        result = matcher.process_batch()
    assert len(result.trade_ids) == makers
    statements = [q["sql"] for q in queries.captured_queries]
    return [sql for sql in statements if "SAVEPOINT" not in sql], matcher  # the test's own transaction


def test_a_batch_of_200_trades_takes_as_many_statements_as_a_batch_of_one(symbol, alice, bob, settlement_handoff):
    one, _ = statements_of_sweep(symbol, alice, bob, makers=1)
    Fill.objects.all().delete()
    Trade.objects.all().delete()

    many, _ = statements_of_sweep(symbol, alice, bob, makers=200)

    # Read the journal; orders; the release posting (ledger lines and three
    # balance statements); the traders' fee overrides; trades with their
    # fills; last price; matcher state; the market-data read of the new
    # trades; consuming the commands.
    assert len(many) == len(one) == 12


def test_a_sweep_writes_every_trade_fill_and_the_release_of_its_unused_quote(symbol, alice, bob, settlement_handoff):
    statements_of_sweep(symbol, alice, bob, makers=200)

    trades = list(Trade.objects.order_by("sequence"))
    assert [t.sequence for t in trades] == list(range(1, 201))
    assert sorted(settlement_handoff) == sorted(t.id for t in trades)
    assert Fill.objects.count() == 400
    assert {(f.liquidity, f.fee) for f in Fill.objects.filter(side="BUY")} == {("TAKER", D("0.00002"))}  # 0.2% of 0.01
    assert {(f.liquidity, f.fee) for f in Fill.objects.filter(side="SELL")} == {("MAKER", D("0.001"))}  # 0.1% of 1.00
    release = LedgerEntry.objects.get(kind="ORDER_RELEASE", bucket="AVAILABLE")
    assert (release.account_id, release.asset, release.amount) == (bob.id, "USDT", D("2"))  # 2 x 101 locked, 200 used


def test_each_trade_has_the_buyers_fill_then_the_sellers_whichever_side_took(symbol, alice, bob, settlement_handoff):
    matcher = Matcher([symbol.id])
    resting_buy = place(alice, symbol, "BUY", "0.01", "100.00")
    resting_sell = place(bob, symbol, "SELL", "0.01", "101.00")
    matcher.process_batch()
    selling_taker = place(bob, symbol, "SELL", "0.01", "100.00")
    buying_taker = place(alice, symbol, "BUY", "0.01", "101.00")
    matcher.process_batch()

    fills = [
        (f.trade.sequence, f.order_id, f.user_id, f.side, f.liquidity, f.fee_asset, f.price, f.quantity, f.fee)
        for f in Fill.objects.select_related("trade").order_by("id")
    ]
    assert fills == [
        (1, resting_buy.id, alice.id, "BUY", "MAKER", "BTC", D("100"), D("0.01"), D("0.00001")),
        (1, selling_taker.id, bob.id, "SELL", "TAKER", "USDT", D("100"), D("0.01"), D("0.002")),
        (2, buying_taker.id, alice.id, "BUY", "TAKER", "BTC", D("101"), D("0.01"), D("0.00002")),
        (2, resting_sell.id, bob.id, "SELL", "MAKER", "USDT", D("101"), D("0.01"), D("0.00101")),
    ]
    assert all(f.executed_at == f.trade.executed_at for f in Fill.objects.select_related("trade"))


def test_the_loaded_books_are_frozen_once_they_are_built(symbol, alice, monkeypatch):
    place(alice, symbol, "SELL", "1", "100.00")
    matcher = Matcher([symbol.id], freeze_after_load=True)
    seen = []
    monkeypatch.setattr(gc, "unfreeze", lambda: seen.append(("unfreeze", len(matcher.books))))
    monkeypatch.setattr(gc, "freeze", lambda: seen.append(("freeze", len(matcher.books))))

    matcher.process_batch()  # the first batch loads the books

    assert seen == [("unfreeze", 0), ("freeze", 1)]
    assert len(matcher.books[symbol.id].engine.resting) == 1


def test_a_matcher_built_without_the_flag_leaves_the_collector_alone(symbol, monkeypatch):
    calls = []
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))

    Matcher([symbol.id]).load()

    assert calls == []
