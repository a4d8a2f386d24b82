"""Depth, level bookkeeping, restoring a book from storage, determinism."""

from __future__ import annotations

import random

import pytest

from matching.engine import MatchingEngine
from matching.engine import constants as c

from .factories import copy_order, engine_with, limit, market, state, stop

BUY, SELL = c.BUY, c.SELL


def test_depth_lists_best_levels_first_with_summed_quantities():
    engine = engine_with(
        limit(1, BUY, 1, 98), limit(2, BUY, 2, 100), limit(3, BUY, 3, 99), limit(4, BUY, 4, 100),
        limit(5, SELL, 1, 103), limit(6, SELL, 2, 101), limit(7, SELL, 3, 102), limit(8, SELL, 4, 101),
    )
    assert engine.depth() == ([(100, 6), (99, 3), (98, 1)], [(101, 6), (102, 3), (103, 1)])
    assert engine.depth(2) == ([(100, 6), (99, 3)], [(101, 6), (102, 3)])
    assert (engine.best_bid(), engine.best_ask()) == (100, 101)


def test_depth_beyond_the_small_limit_path_agrees():
    orders = [limit(i, BUY, 1, 1000 - i) for i in range(1, 101)]
    orders += [limit(1000 + i, SELL, 1, 2000 + i) for i in range(1, 101)]
    engine = engine_with(*orders)
    bids, asks = engine.depth(80)
    assert bids == [(1000 - i, 1) for i in range(1, 81)]
    assert asks == [(2000 + i, 1) for i in range(1, 81)]


def test_empty_book():
    engine = MatchingEngine()
    assert engine.depth() == ([], [])
    assert engine.best_bid() is None and engine.best_ask() is None


def test_level_filled_away_is_deleted():
    engine = engine_with(limit(1, SELL, 1, 100), limit(2, SELL, 1, 100), limit(3, SELL, 1, 101))
    engine.place(limit(4, BUY, 2, 100, user=2))
    assert 100 not in engine.asks.levels
    assert engine.best_ask() == 101
    assert len(engine.asks) == 1


def test_level_cancelled_away_is_deleted_and_best_moves():
    engine = engine_with(limit(1, BUY, 1, 100), limit(2, BUY, 1, 99))
    engine.cancel(1)
    assert 100 not in engine.bids.levels
    assert engine.best_bid() == 99
    engine.cancel(2)
    assert engine.best_bid() is None and engine.depth() == ([], [])


def test_price_level_can_be_reused_after_deletion():
    engine = engine_with(limit(1, BUY, 1, 100), limit(2, BUY, 1, 99))
    engine.cancel(1)
    engine.place(limit(3, BUY, 2, 100))
    assert engine.best_bid() == 100
    assert engine.depth() == ([(100, 2), (99, 1)], [])


def test_restore_rebuilds_the_same_book_with_the_same_priority():
    original = engine_with(
        limit(1, BUY, 5, 100), limit(2, BUY, 2, 100, user=2), limit(3, BUY, 1, 99),
        limit(4, SELL, 3, 105), limit(5, SELL, 1, 104, user=2), limit(6, SELL, 2, 105, user=3),
        market(7, SELL, 3, user=4),  # partially fills order 1
        stop(8, SELL, 1, 90), stop(9, BUY, 2, 110, price=111),
    )
    original.cancel(5)
    stored = sorted(list(original.resting.values()) + original.stops.orders(), key=lambda o: o.seq)
    restored = MatchingEngine()
    for order in stored:
        restored.restore(copy_order(order))
    assert restored.depth() == original.depth() == ([(100, 4), (99, 1)], [(105, 5)])
    assert restored.order_seq == original.order_seq
    assert sorted(restored.stops.orders(), key=lambda o: o.id) == [restored.get(8), restored.get(9)]
    assert restored.get(1).filled == 3 and restored.get(1).status == c.PARTIALLY_FILLED
    for engine in (original, restored):
        engine.drain()
        engine.place(market(20, SELL, 10, user=9))
        engine.place(market(21, BUY, 10, user=9))
    assert [t.as_tuple()[1:] for t in original.drain()[0]] == [t.as_tuple()[1:] for t in restored.drain()[0]]


def test_restore_refuses_a_final_order():
    engine = MatchingEngine()
    with pytest.raises(ValueError):
        engine.restore(limit(1, BUY, 1, 100, status=c.FILLED))


def random_stream(seed: int, n: int) -> list:
    rng = random.Random(seed)
    commands, live = [], []
    for order_id in range(1, n + 1):
        roll = rng.random()
        side = rng.choice((BUY, SELL))
        user = rng.randint(1, 4)
        if roll < 0.2 and live:
            commands.append(("cancel", rng.choice(live)))
        elif roll < 0.3:
            budget = rng.choice((None, 500))
            commands.append(("place", market(order_id, side, rng.randint(1, 8), user=user, quote_budget=budget)))
        elif roll < 0.35:
            commands.append(("place", stop(order_id, side, rng.randint(1, 5), rng.randint(95, 105), user=user)))
        else:
            tif = rng.choice((c.GTC, c.GTC, c.IOC, c.FOK))
            stp = rng.choice((c.CANCEL_TAKER, c.CANCEL_MAKER, c.CANCEL_BOTH, c.STP_NONE))
            qty, price = rng.randint(1, 8), rng.randint(95, 105)
            order = limit(order_id, side, qty, price, user=user, time_in_force=tif, stp=stp)
            commands.append(("place", order))
            live.append(order_id)
    return commands


def run(commands: list) -> tuple[list, dict]:
    engine = MatchingEngine()
    orders = {}
    for kind, arg in commands:
        if kind == "cancel":
            engine.cancel(arg)
        else:
            order = copy_order(arg)
            orders[order.id] = order
            engine.place(order)
    trades, _ = engine.drain()
    return [t.as_tuple() for t in trades], {i: state(o) for i, o in orders.items()}


def test_same_stream_gives_identical_trades_and_order_states():
    commands = random_stream(7, 2000)
    trades_a, states_a = run(commands)
    trades_b, states_b = run(commands)
    assert trades_a and trades_a == trades_b
    assert states_a == states_b


@pytest.mark.parametrize("levels", [0, 1, 8, 9, 64, 65, 700])
def test_prices_in_priority_walks_every_level_best_first(levels):
    from matching.engine.book import BookSide

    rng = random.Random(levels)
    prices = rng.sample(range(1, 100_000), levels)
    for is_bid in (True, False):
        side = BookSide(is_bid=is_bid)
        orders = [limit(n + 1, c.BUY if is_bid else c.SELL, 1, price) for n, price in enumerate(prices)]
        for order in orders:
            side.add(order)
        assert list(side.prices_in_priority()) == sorted(prices, reverse=is_bid)

        # Emptied levels stay in the heap as stale entries; some come back.
        gone = rng.sample(orders, len(orders) // 2)
        for order in gone:
            order.status = c.CANCELLED
            side.remove(order)
        back = [limit(10_000 + n, order.side, 1, order.price) for n, order in enumerate(gone[: len(gone) // 3])]
        for order in back:
            side.add(order)
        expected = {o.price for o in orders if o not in gone} | {o.price for o in back}
        assert list(side.prices_in_priority()) == sorted(expected, reverse=is_bid)


def test_a_fok_order_on_a_deep_book_fills_only_when_the_top_levels_suffice():
    engine = MatchingEngine()
    for n in range(2000):  # 2000 ask levels of 1 lot, from 10_000 up
        engine.place(limit(n + 1, c.SELL, 1, 10_000 + n, user=2))
    engine.drain()

    enough = limit(5001, c.BUY, 3, 10_002, time_in_force=c.FOK)
    engine.place(enough)
    assert enough.status == c.FILLED

    short = limit(5002, c.BUY, 5, 10_006, time_in_force=c.FOK)  # 4 lots left at or under its price
    engine.place(short)
    assert (short.status, short.filled) == (c.CANCELLED, 0)
