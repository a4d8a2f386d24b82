"""Cancelling resting orders and untriggered stops."""

from __future__ import annotations

from matching.engine import constants as c

from .factories import engine_with, limit, stop, trade_tuples

BUY, SELL = c.BUY, c.SELL


def test_cancel_resting_order_removes_it_from_the_book():
    engine = engine_with(limit(1, BUY, 2, 100), limit(2, BUY, 3, 100))
    assert engine.cancel(1) is True
    order = engine.drain()[1][0]
    assert (order.id, order.status, order.cancel_reason) == (1, c.CANCELLED, c.CANCELLED_BY_USER)
    assert engine.get(1) is None and 1 not in engine.resting
    assert engine.depth() == ([(100, 3)], [])


def test_cancel_records_the_given_reason():
    engine = engine_with(limit(1, SELL, 2, 100))
    engine.cancel(1, "Symbol halted")
    assert engine.drain()[1][0].cancel_reason == "Symbol halted"


def test_cancel_of_partially_filled_order_removes_only_its_remainder():
    engine = engine_with(limit(1, SELL, 5, 100), limit(2, SELL, 1, 100), limit(3, BUY, 2, 100, user=2))
    assert engine.depth() == ([], [(100, 4)])
    engine.cancel(1)
    assert engine.depth() == ([], [(100, 1)])


def test_cancel_unknown_order_returns_false_and_changes_nothing():
    engine = engine_with(limit(1, BUY, 2, 100))
    assert engine.cancel(42) is False
    assert engine.drain() == ([], [])
    assert engine.depth() == ([(100, 2)], [])


def test_cancel_of_a_final_order_returns_false():
    engine = engine_with(limit(1, SELL, 1, 100), limit(2, BUY, 1, 100, user=2), limit(3, BUY, 1, 99))
    assert engine.cancel(1) is False  # filled
    assert engine.cancel(3) is True
    assert engine.cancel(3) is False  # already cancelled


def test_cancel_untriggered_stop():
    engine = engine_with(stop(1, SELL, 2, 95), last_price=100)
    assert engine.get(1).status == c.UNTRIGGERED
    assert engine.cancel(1) is True
    _, touched = engine.drain()
    assert [(o.id, o.status, o.cancel_reason) for o in touched] == [(1, c.CANCELLED, c.CANCELLED_BY_USER)]
    assert len(engine.stops) == 0 and engine.get(1) is None


def test_cancelled_stop_never_fires():
    engine = engine_with(stop(1, SELL, 2, 95), limit(2, BUY, 5, 90, user=2), last_price=100)
    engine.cancel(1)
    engine.place(limit(3, BUY, 1, 95, user=3))
    engine.place(limit(4, SELL, 1, 95, user=4))
    assert trade_tuples(engine) == [(95, 1, 3, 4)]
    assert engine.depth() == ([(90, 5)], [])


def test_cancelled_orders_in_a_queue_are_skipped():
    engine = engine_with(limit(1, SELL, 1, 100), limit(2, SELL, 1, 100), limit(3, SELL, 1, 100))
    engine.cancel(2)
    engine.place(limit(4, BUY, 2, 100, user=2))
    assert trade_tuples(engine) == [(100, 1, 1, 4), (100, 1, 3, 4)]


def test_cancelled_order_at_the_head_of_a_queue_is_skipped():
    engine = engine_with(limit(1, BUY, 1, 100), limit(2, BUY, 1, 100))
    engine.cancel(1)
    engine.place(limit(3, SELL, 1, 100, user=2))
    assert trade_tuples(engine) == [(100, 1, 2, 3)]


def test_many_cancels_in_one_level_keep_quantities_right():
    orders = [limit(i, SELL, 1, 100) for i in range(1, 101)]
    engine = engine_with(*orders)
    for i in range(1, 100):
        engine.cancel(i)
    assert engine.depth() == ([], [(100, 1)])
    level = engine.asks.levels[100]
    assert (level.count, level.quantity) == (1, 1)
    assert [o.id for o in level.live_orders()] == [100]
    engine.place(limit(101, BUY, 5, 100, user=2))
    assert trade_tuples(engine) == [(100, 1, 100, 101)]
