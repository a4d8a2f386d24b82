"""Price-time priority, partial fills, order types and times in force."""

from __future__ import annotations

from matching.engine import MatchingEngine
from matching.engine import constants as c

from .factories import engine_with, limit, market, trade_tuples

BUY, SELL = c.BUY, c.SELL


def test_better_price_matches_first():
    engine = engine_with(limit(1, SELL, 1, 101), limit(2, SELL, 1, 100), limit(3, SELL, 1, 102))
    engine.place(limit(4, BUY, 3, 102, user=2))
    assert trade_tuples(engine) == [(100, 1, 2, 4), (101, 1, 1, 4), (102, 1, 3, 4)]


def test_orders_at_one_price_match_first_in_first_out():
    engine = engine_with(limit(1, BUY, 1, 100), limit(2, BUY, 1, 100), limit(3, BUY, 1, 100))
    engine.place(limit(4, SELL, 2, 100, user=2))
    assert trade_tuples(engine) == [(100, 1, 1, 4), (100, 1, 2, 4)]
    assert engine.get(3).status == c.OPEN


def test_maker_partially_filled_keeps_its_place_and_rest():
    engine = engine_with(limit(1, SELL, 5, 100), limit(2, SELL, 5, 100))
    engine.place(limit(3, BUY, 2, 100, user=2))
    maker = engine.get(1)
    assert (maker.status, maker.filled, maker.remaining) == (c.PARTIALLY_FILLED, 2, 3)
    assert engine.depth() == ([], [(100, 8)])
    engine.drain()
    engine.place(limit(4, BUY, 4, 100, user=2))
    assert trade_tuples(engine) == [(100, 3, 1, 4), (100, 1, 2, 4)]


def test_taker_partially_filled_rests_its_remainder():
    engine = engine_with(limit(1, SELL, 2, 100))
    taker = limit(2, BUY, 5, 100, user=2)
    engine.place(taker)
    assert (taker.status, taker.filled, taker.remaining) == (c.PARTIALLY_FILLED, 2, 3)
    assert engine.depth() == ([(100, 3)], [])
    assert engine.get(2) is taker


def test_trade_happens_at_the_maker_price():
    engine = engine_with(limit(1, SELL, 5, 100))
    taker = limit(2, BUY, 5, 105, user=2)
    engine.place(taker)
    trades, _ = engine.drain()
    assert [(t.price, t.quantity) for t in trades] == [(100, 5)]
    assert taker.spent == 500 and engine.last_price == 100


def test_trade_records_both_sides():
    engine = engine_with(limit(1, BUY, 3, 100, user=7))
    engine.place(limit(2, SELL, 3, 99, user=8))
    (trade,), touched = engine.drain()
    assert trade.as_tuple() == (1, 100, 3, 1, 2, SELL)
    assert (trade.maker_user_id, trade.taker_user_id, trade.taker_side) == (7, 8, SELL)
    assert {o.id: o.status for o in touched} == {1: c.FILLED, 2: c.FILLED}


def test_trade_sequence_increases_across_commands():
    engine = engine_with(limit(1, SELL, 1, 100), limit(2, SELL, 1, 101))
    engine.place(limit(3, BUY, 1, 100, user=2))
    engine.place(limit(4, BUY, 1, 101, user=2))
    trades, _ = engine.drain()
    assert [t.seq for t in trades] == [1, 2]
    assert engine.trade_seq == 2


def test_gtc_limit_that_does_not_cross_rests_open():
    engine = engine_with(limit(1, SELL, 1, 101))
    order = limit(2, BUY, 4, 100, user=2)
    engine.place(order)
    assert order.status == c.OPEN and order.filled == 0
    assert engine.resting[2] is order
    assert engine.best_bid() == 100 and engine.best_ask() == 101


def test_resting_orders_get_increasing_seq():
    engine = engine_with(limit(1, BUY, 1, 100), limit(2, SELL, 1, 105), limit(3, BUY, 1, 99))
    assert [engine.get(i).seq for i in (1, 2, 3)] == [1, 2, 3]
    assert engine.order_seq == 3


def test_market_order_sweeps_levels_until_filled():
    engine = engine_with(limit(1, BUY, 2, 100), limit(2, BUY, 2, 99), limit(3, BUY, 2, 98))
    order = market(4, SELL, 3, user=2)
    engine.place(order)
    assert trade_tuples(engine) == [(100, 2, 1, 4), (99, 1, 2, 4)]
    assert order.status == c.FILLED
    assert engine.depth() == ([(99, 1), (98, 2)], [])


def test_market_order_without_enough_liquidity_cancels_the_rest():
    engine = engine_with(limit(1, SELL, 2, 100))
    order = market(2, BUY, 5, user=2)
    engine.place(order)
    assert order.filled == 2
    assert (order.status, order.cancel_reason) == (c.CANCELLED, c.MARKET_NOT_FILLED)
    assert 2 not in engine.resting


def test_market_order_on_an_empty_book_is_cancelled():
    engine = MatchingEngine()
    order = market(1, SELL, 1)
    engine.place(order)
    assert (order.status, order.cancel_reason, order.filled) == (c.CANCELLED, c.MARKET_NOT_FILLED, 0)
    assert engine.drain() == ([], [order])


def test_ioc_remainder_is_cancelled():
    engine = engine_with(limit(1, SELL, 2, 100), limit(2, SELL, 2, 101))
    order = limit(3, BUY, 5, 100, user=2, time_in_force=c.IOC)
    engine.place(order)
    assert trade_tuples(engine) == [(100, 2, 1, 3)]
    assert (order.status, order.filled, order.cancel_reason) == (c.CANCELLED, 2, c.IOC_NOT_FILLED)
    assert engine.depth() == ([], [(101, 2)])


def test_ioc_that_fills_nothing_is_cancelled_with_reason():
    engine = engine_with(limit(1, SELL, 2, 101))
    order = limit(2, BUY, 5, 100, user=2, time_in_force=c.IOC)
    engine.place(order)
    assert (order.status, order.filled) == (c.CANCELLED, 0)
    assert order.cancel_reason == "IOC order not filled"
    assert engine.depth() == ([], [(101, 2)])


def test_ioc_that_fills_completely_is_filled():
    engine = engine_with(limit(1, SELL, 2, 100))
    order = limit(2, BUY, 2, 100, user=2, time_in_force=c.IOC)
    engine.place(order)
    assert (order.status, order.cancel_reason) == (c.FILLED, "")


def test_fok_fills_entirely_across_levels():
    engine = engine_with(limit(1, SELL, 2, 100), limit(2, SELL, 3, 101))
    order = limit(3, BUY, 5, 101, user=2, time_in_force=c.FOK)
    engine.place(order)
    assert trade_tuples(engine) == [(100, 2, 1, 3), (101, 3, 2, 3)]
    assert order.status == c.FILLED
    assert engine.depth() == ([], [])


def test_fok_that_cannot_fill_entirely_trades_nothing_and_leaves_book_untouched():
    makers = [limit(1, SELL, 2, 100), limit(2, SELL, 3, 101), limit(3, SELL, 9, 102)]
    engine = engine_with(*makers)
    before = engine.depth()
    order = limit(4, BUY, 6, 101, user=2, time_in_force=c.FOK)
    engine.place(order)
    trades, touched = engine.drain()
    assert trades == [] and touched == [order]
    assert (order.status, order.filled, order.cancel_reason) == (c.CANCELLED, 0, c.FOK_NOT_FILLED)
    assert engine.depth() == before
    assert [(m.status, m.filled) for m in makers] == [(c.OPEN, 0)] * 3
    assert engine.last_price is None


def test_fok_counts_only_what_self_trade_prevention_lets_it_take():
    engine = engine_with(limit(1, SELL, 2, 100, user=2), limit(2, SELL, 3, 100, user=1))
    order = limit(3, BUY, 5, 100, user=1, time_in_force=c.FOK)
    engine.place(order)
    assert (order.status, order.cancel_reason) == (c.CANCELLED, c.FOK_NOT_FILLED)
    assert engine.depth() == ([], [(100, 5)])


def test_fok_market_buy_respects_its_budget():
    engine = engine_with(limit(1, SELL, 5, 100))
    order = market(2, BUY, 5, user=2, time_in_force=c.FOK, quote_budget=499)
    engine.place(order)
    assert (order.status, order.filled) == (c.CANCELLED, 0)
    assert engine.depth() == ([], [(100, 5)])


def test_every_command_advances_the_book_sequence():
    engine = MatchingEngine()
    engine.place(limit(1, BUY, 1, 100))
    engine.cancel(1)
    engine.cancel(99)
    assert engine.sequence == 3


def test_drain_hands_over_results_once():
    engine = MatchingEngine()
    engine.place(limit(1, SELL, 1, 100))
    engine.place(limit(2, BUY, 1, 100, user=2))
    trades, touched = engine.drain()
    assert len(trades) == 1
    assert [o.id for o in touched] == [1, 2]
    assert engine.drain() == ([], [])


def test_drain_lists_each_changed_order_once_in_first_change_order():
    engine = engine_with(limit(1, SELL, 1, 100), limit(2, SELL, 5, 101))
    engine.place(limit(3, BUY, 2, 101, user=2))
    engine.place(limit(4, BUY, 1, 101, user=2))
    engine.cancel(2)
    _, touched = engine.drain()
    assert [o.id for o in touched] == [3, 1, 2, 4]
