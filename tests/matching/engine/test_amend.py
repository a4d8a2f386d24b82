"""Amending live orders: quantity down keeps time priority; a new price, stop
price or a higher quantity is a cancel-replace in one command."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from matching.engine import MatchingEngine
from matching.engine import constants as c

from .factories import engine_with, limit, stop, trade_tuples
from .test_properties import SETTINGS, apply, check_book, check_orders, command

BUY, SELL = c.BUY, c.SELL


def queue(engine, side: str, price: int) -> list[tuple[int, int]]:
    book = engine.bids if side == BUY else engine.asks
    return [(o.id, o.remaining) for o in book.levels[price].live_orders()]


def test_lower_quantity_keeps_time_priority_and_shrinks_the_level():
    engine = engine_with(limit(1, BUY, 5, 100), limit(2, BUY, 3, 100))

    amended = engine.amend(1, quantity=2, price=100, stop_price=None)

    assert amended is engine.get(1) and amended.quantity == 2
    assert queue(engine, BUY, 100) == [(1, 2), (2, 3)]
    assert engine.depth() == ([(100, 5)], [])
    assert [o.id for o in engine.drain()[1]] == [1]


def test_higher_quantity_goes_to_the_back_of_the_level():
    engine = engine_with(limit(1, BUY, 5, 100), limit(2, BUY, 3, 100))

    engine.amend(1, quantity=6, price=100, stop_price=None)

    assert queue(engine, BUY, 100) == [(2, 3), (1, 6)]
    assert engine.depth() == ([(100, 9)], [])


def test_new_price_moves_the_order_to_the_back_of_its_new_level():
    engine = engine_with(limit(1, SELL, 5, 101), limit(2, SELL, 3, 102))

    amended = engine.amend(1, quantity=5, price=102, stop_price=None)

    assert queue(engine, SELL, 102) == [(2, 3), (1, 5)]
    assert engine.depth() == ([], [(102, 8)])
    assert amended.seq > engine.get(2).seq


def test_the_amended_order_keeps_its_fills():
    engine = engine_with(limit(1, SELL, 5, 100), limit(2, BUY, 2, 100, user=2))

    amended = engine.amend(1, quantity=4, price=101, stop_price=None)

    assert (amended.status, amended.filled, amended.remaining) == (c.PARTIALLY_FILLED, 2, 2)
    assert engine.depth() == ([], [(101, 2)])


def test_a_new_price_that_crosses_trades_at_once_as_taker():
    engine = engine_with(limit(1, SELL, 2, 105, user=2), limit(2, BUY, 3, 100))

    amended = engine.amend(2, quantity=3, price=105, stop_price=None)

    assert trade_tuples(engine) == [(105, 2, 1, 2)]
    assert (amended.status, amended.filled) == (c.PARTIALLY_FILLED, 2)
    assert engine.depth() == ([(105, 1)], [])


def test_a_post_only_order_that_would_cross_is_not_amended():
    engine = engine_with(limit(1, SELL, 2, 105, user=2), limit(2, BUY, 3, 100, post_only=True))

    assert engine.amend(2, quantity=3, price=105, stop_price=None) is None

    assert (engine.get(2).price, engine.get(2).status) == (100, c.OPEN)
    assert engine.depth() == ([(100, 3)], [(105, 2)])


def test_quantity_not_above_the_filled_part_is_refused():
    engine = engine_with(limit(1, SELL, 5, 100), limit(2, BUY, 2, 100, user=2))

    assert engine.amend(1, quantity=2, price=100, stop_price=None) is None

    assert (engine.get(1).quantity, engine.get(1).filled) == (5, 2)
    assert engine.depth() == ([], [(100, 3)])


def test_amend_of_an_order_that_is_not_live_changes_nothing():
    engine = engine_with(limit(1, BUY, 2, 100))
    engine.cancel(1)
    engine.drain()
    sequence = engine.sequence

    assert engine.amend(1, quantity=3, price=100, stop_price=None) is None

    assert engine.drain() == ([], [])
    assert engine.sequence == sequence + 1


def test_amended_stop_waits_at_its_new_stop_price():
    engine = engine_with(stop(1, BUY, 2, 110, 112), last_price=100)

    amended = engine.amend(1, quantity=2, price=112, stop_price=120)

    assert (amended.status, amended.stop_price) == (c.UNTRIGGERED, 120)
    assert engine.stops.pop_triggered(115) == []


def test_amended_stop_whose_new_stop_price_is_reached_fires_at_once():
    engine = engine_with(stop(1, BUY, 2, 110, 112), last_price=100)

    amended = engine.amend(1, quantity=2, price=112, stop_price=100)

    assert amended.triggered and amended.status == c.OPEN
    assert engine.depth() == ([(112, 2)], [])


def test_stop_quantity_down_keeps_its_place_among_stops():
    engine = engine_with(stop(1, SELL, 5, 90), stop(2, SELL, 5, 90), last_price=100)

    engine.amend(1, quantity=3, price=None, stop_price=90)

    assert [(o.id, o.quantity) for o in engine.stops.pop_triggered(90)] == [(1, 3), (2, 5)]


def test_replaced_order_is_never_matched_twice():
    engine = engine_with(limit(1, SELL, 2, 100), limit(2, SELL, 2, 100))
    engine.amend(1, quantity=2, price=101, stop_price=None)

    engine.place(limit(3, BUY, 4, 101, user=2))

    assert trade_tuples(engine) == [(100, 2, 2, 3), (101, 2, 1, 3)]
    assert engine.depth() == ([], [])


amend_step = st.tuples(st.just("amend"), st.integers(0, 1000), st.integers(1, 10), st.integers(95, 105), st.integers(-3, 3))
mixed_streams = st.lists(st.one_of(command, command, amend_step), max_size=80)


def amend_in(engine, orders: dict, step: tuple) -> None:
    _, target, qty, price, offset = step
    order = engine.get(target % (len(orders) + 1)) if orders else None
    if order is None:
        return
    if order.type == c.STOP_MARKET:
        new_price, new_stop = None, price
    elif order.type == c.STOP_LIMIT:
        new_price, new_stop = price + offset, (price if not order.triggered else order.stop_price)
    else:
        new_price, new_stop = price, None
    amended = engine.amend(order.id, quantity=qty, price=new_price, stop_price=new_stop)
    if amended is not None:
        orders[amended.id] = amended


@SETTINGS
@given(mixed_streams)
def test_with_amends_the_book_never_crosses_and_states_stay_consistent(stream):
    engine = MatchingEngine()
    orders: dict = {}
    for index, step in enumerate(stream):
        if step[0] == "amend":
            amend_in(engine, orders, step)
        else:
            apply(engine, orders, index, step)
        check_book(engine)
        check_orders(engine, orders)
