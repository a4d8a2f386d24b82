"""Stop-market and stop-limit orders: triggering, cascades and immediate fires."""

from __future__ import annotations

from matching.engine import MatchingEngine
from matching.engine import constants as c
from matching.engine.stops import StopBook

from .factories import engine_with, limit, market, stop, trade_tuples

BUY, SELL = c.BUY, c.SELL


def trade_at(engine: MatchingEngine, price: int, first_id: int) -> None:
    """Make one 1-lot trade at `price` between two bystanders."""
    engine.place(limit(first_id, BUY, 1, price, user=90))
    engine.place(limit(first_id + 1, SELL, 1, price, user=91))


def test_untriggered_stop_waits_outside_the_book():
    engine = engine_with(limit(1, BUY, 1, 99, user=2), last_price=100)
    order = stop(2, SELL, 3, 95)
    engine.place(order)
    assert order.status == c.UNTRIGGERED and not order.triggered
    assert engine.get(2) is order and 2 in engine.stops
    assert engine.depth() == ([(99, 1)], [])
    assert order.seq == engine.order_seq == 2
    assert engine.drain() == ([], [order])


def test_stop_without_a_last_price_waits():
    engine = MatchingEngine()
    order = stop(1, BUY, 1, 100)
    engine.place(order)
    assert order.status == c.UNTRIGGERED


def test_sell_stop_fires_when_last_price_falls_to_its_stop():
    engine = engine_with(limit(1, BUY, 5, 90, user=2), last_price=100)
    order = stop(2, SELL, 3, 95)
    engine.place(order)
    trade_at(engine, 96, 10)
    assert order.status == c.UNTRIGGERED
    engine.drain()
    trade_at(engine, 95, 20)
    assert order.triggered is True
    assert (order.status, order.filled) == (c.FILLED, 3)
    assert trade_tuples(engine) == [(95, 1, 20, 21), (90, 3, 1, 2)]
    assert len(engine.stops) == 0


def test_buy_stop_fires_when_last_price_rises_to_its_stop():
    engine = engine_with(limit(1, SELL, 5, 110, user=2), last_price=100)
    order = stop(2, BUY, 2, 105)
    engine.place(order)
    trade_at(engine, 104, 10)
    assert order.status == c.UNTRIGGERED
    engine.drain()
    trade_at(engine, 106, 20)
    assert (order.status, order.filled, order.triggered) == (c.FILLED, 2, True)
    assert trade_tuples(engine)[-1] == (110, 2, 1, 2)


def test_stop_limit_becomes_a_limit_order_that_may_rest():
    engine = engine_with(limit(1, BUY, 1, 93, user=2), last_price=100)
    order = stop(2, SELL, 3, 95, price=94)
    engine.place(order)
    trade_at(engine, 95, 10)
    assert (order.status, order.triggered, order.filled) == (c.OPEN, True, 0)
    assert engine.resting[2] is order
    assert engine.depth() == ([(93, 1)], [(94, 3)])
    assert order.seq == engine.order_seq


def test_stop_market_fills_against_the_book_when_fired():
    engine = engine_with(limit(1, BUY, 1, 94, user=2), limit(2, BUY, 1, 93, user=2), last_price=100)
    order = stop(3, SELL, 5, 95)
    engine.place(order)
    trade_at(engine, 95, 10)
    assert (order.status, order.filled, order.cancel_reason) == (c.CANCELLED, 2, c.MARKET_NOT_FILLED)


def test_stop_fill_cascades_into_further_stops():
    engine = engine_with(
        limit(1, BUY, 1, 94, user=2),
        limit(2, BUY, 1, 90, user=2),
        limit(3, BUY, 5, 80, user=2),
        last_price=100,
    )
    first = stop(4, SELL, 1, 95)  # fires at 95, sells into 94
    second = stop(5, SELL, 1, 94)  # fired by that 94 trade, sells into 90
    third = stop(6, SELL, 1, 85)  # fired by the 90? no: 90 > 85, stays
    for order in (first, second, third):
        engine.place(order)
    trade_at(engine, 95, 10)
    assert trade_tuples(engine) == [(95, 1, 10, 11), (94, 1, 1, 4), (90, 1, 2, 5)]
    assert (first.status, second.status, third.status) == (c.FILLED, c.FILLED, c.UNTRIGGERED)
    assert engine.last_price == 90


def test_stop_that_would_fire_at_once_executes_on_placement():
    engine = engine_with(limit(1, BUY, 5, 99, user=2), last_price=100)
    order = stop(2, SELL, 2, 105)  # last 100 is already <= 105
    engine.place(order)
    assert order.triggered is True
    assert (order.status, order.filled) == (c.FILLED, 2)
    assert trade_tuples(engine) == [(99, 2, 1, 2)]
    assert 2 not in engine.stops


def test_buy_stop_at_the_last_price_fires_at_once():
    engine = engine_with(limit(1, SELL, 5, 101, user=2), last_price=100)
    order = stop(2, BUY, 1, 100, price=101)
    engine.place(order)
    assert (order.status, order.triggered) == (c.FILLED, True)


def test_fired_stops_run_lowest_buy_and_highest_sell_first_then_oldest():
    book = StopBook()
    orders = [
        stop(1, BUY, 1, 103, seq=1),
        stop(2, BUY, 1, 101, seq=2),
        stop(3, BUY, 1, 101, seq=3),
        stop(4, BUY, 1, 108, seq=4),
        stop(5, SELL, 1, 104, seq=5),
        stop(6, SELL, 1, 106, seq=6),
        stop(7, SELL, 1, 99, seq=7),
    ]
    for order in orders:
        book.add(order)
    assert [o.id for o in book.pop_triggered(105)] == [2, 3, 1, 6]
    assert sorted(o.id for o in book.orders()) == [4, 5, 7]
    assert book.pop_triggered(105) == []


def test_stop_that_fires_with_no_liquidity_is_touched_and_ends():
    engine = engine_with(last_price=100)
    order = stop(1, BUY, 1, 105)
    engine.place(order)
    engine.drain()
    engine.place(limit(2, SELL, 1, 105, user=2))
    engine.place(market(3, BUY, 1, user=3))
    _, touched = engine.drain()
    assert [o.id for o in touched] == [2, 3, 1]
    assert (order.status, order.cancel_reason) == (c.CANCELLED, c.MARKET_NOT_FILLED)


def test_restored_stop_that_the_last_price_already_fires_runs_on_the_next_placement():
    engine = MatchingEngine()
    engine.restore(limit(1, BUY, 5, 90, user=2, status=c.OPEN, seq=1))
    engine.restore(stop(2, SELL, 2, 95, status=c.UNTRIGGERED, seq=2))
    engine.last_price = 94  # as the host sets it after loading the book
    engine.place(limit(3, SELL, 1, 120, user=3))  # trades nothing
    assert trade_tuples(engine) == [(90, 2, 1, 2)]
    assert engine.get(2) is None and engine.get(1).filled == 2


def test_stops_are_checked_again_when_the_last_price_is_set_from_outside():
    engine = engine_with(limit(1, BUY, 5, 90, user=2), last_price=100)
    order = stop(2, SELL, 2, 95)
    engine.place(order)
    engine.place(limit(3, SELL, 1, 120, user=3))
    assert order.status == c.UNTRIGGERED
    engine.last_price = 95
    engine.place(limit(4, SELL, 1, 121, user=3))
    assert (order.status, order.filled) == (c.FILLED, 2)


def test_a_trade_at_an_unchanged_price_fires_nothing_new():
    engine = engine_with(limit(1, BUY, 5, 96, user=2), limit(2, SELL, 1, 96, user=3), limit(9, BUY, 5, 80, user=2))
    order = stop(3, SELL, 1, 95)
    engine.place(order)
    engine.place(limit(4, SELL, 1, 96, user=3))
    assert engine.last_price == 96 and order.status == c.UNTRIGGERED


def test_stop_book_forgets_cancelled_prices():
    book = StopBook()
    for i in range(1, 201):
        book.add(stop(i, BUY if i % 2 else SELL, 1, 1000 + i if i % 2 else 1000 - i, seq=i))
    for i in range(1, 191):
        book.remove(i)
    for i in range(1, 191, 2):  # the same prices again, new orders
        book.add(stop(1000 + i, BUY, 1, 1000 + i, seq=1000 + i))
    assert len(book._buy_heap) <= 2 * len(book._buys) + 16
    assert len(book._sell_heap) <= 2 * len(book._sells) + 16
    fired = book.pop_triggered(1300)
    assert [o.stop_price for o in fired] == sorted(o.stop_price for o in fired)
    assert len(fired) == 95 + 5
    assert [o.id for o in book.pop_triggered(0)] == [192, 194, 196, 198, 200]
    assert len(book) == 0
