"""A market buy never spends more than the quote it locked."""

from __future__ import annotations

from matching.engine import constants as c

from .factories import engine_with, limit, market, stop, trade_tuples

BUY, SELL = c.BUY, c.SELL


def test_market_buy_stops_at_its_budget_and_cancels_the_rest():
    engine = engine_with(limit(1, SELL, 1, 100, user=2), limit(2, SELL, 5, 101, user=2))
    order = market(3, BUY, 10, quote_budget=250)
    engine.place(order)
    assert trade_tuples(engine) == [(100, 1, 1, 3), (101, 1, 2, 3)]
    assert order.spent == 201 <= order.quote_budget
    assert (order.status, order.filled, order.cancel_reason) == (c.CANCELLED, 2, c.MARKET_BUDGET_EXHAUSTED)
    assert engine.depth() == ([], [(101, 4)])


def test_market_buy_with_budget_exactly_enough_fills():
    engine = engine_with(limit(1, SELL, 3, 100, user=2))
    order = market(2, BUY, 3, quote_budget=300)
    engine.place(order)
    assert (order.status, order.spent) == (c.FILLED, 300)


def test_market_buy_that_cannot_afford_one_lot_trades_nothing():
    engine = engine_with(limit(1, SELL, 3, 100, user=2))
    order = market(2, BUY, 3, quote_budget=99)
    engine.place(order)
    assert trade_tuples(engine) == []
    assert (order.status, order.spent, order.cancel_reason) == (c.CANCELLED, 0, c.MARKET_BUDGET_EXHAUSTED)


def test_market_buy_budget_counts_what_was_spent_before():
    engine = engine_with(limit(1, SELL, 5, 100, user=2))
    order = market(2, BUY, 5, quote_budget=500, filled=2, spent=250)
    engine.place(order)
    assert order.spent == 450 and order.filled == 4


def test_stop_market_buy_keeps_to_its_budget_when_fired():
    engine = engine_with(limit(1, SELL, 5, 120, user=2), last_price=100)
    order = stop(2, BUY, 5, 105, quote_budget=300)
    engine.place(order)
    engine.place(limit(3, BUY, 1, 106, user=3))
    engine.place(limit(4, SELL, 1, 106, user=4))
    assert order.triggered and order.spent == 240 <= 300
    assert order.cancel_reason == c.MARKET_BUDGET_EXHAUSTED


def test_market_sell_has_no_budget():
    engine = engine_with(limit(1, BUY, 5, 100, user=2))
    order = market(2, SELL, 5, quote_budget=1)
    engine.place(order)
    assert order.status == c.FILLED
