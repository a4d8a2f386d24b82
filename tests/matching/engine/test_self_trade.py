"""Self-trade prevention: the taker's mode decides what happens on a self-match."""

from __future__ import annotations

from matching.engine import constants as c

from .factories import engine_with, limit, trade_tuples

BUY, SELL = c.BUY, c.SELL


def test_cancel_taker_is_the_default():
    assert limit(1, BUY, 1, 100).stp == c.CANCEL_TAKER


def test_cancel_taker_cancels_the_incoming_order_and_keeps_the_maker():
    engine = engine_with(limit(1, SELL, 2, 100, user=1))
    taker = limit(2, BUY, 2, 100, user=1)
    engine.place(taker)
    trades, touched = engine.drain()
    assert trades == [] and touched == [taker]
    assert (taker.status, taker.cancel_reason) == (c.CANCELLED, c.SELF_TRADE_PREVENTED)
    assert engine.get(1).status == c.OPEN
    assert engine.depth() == ([], [(100, 2)])


def test_cancel_taker_keeps_fills_made_before_the_self_match():
    engine = engine_with(limit(1, SELL, 1, 100, user=2), limit(2, SELL, 1, 100, user=1))
    taker = limit(3, BUY, 2, 100, user=1)
    engine.place(taker)
    assert trade_tuples(engine) == [(100, 1, 1, 3)]
    assert (taker.status, taker.filled, taker.cancel_reason) == (c.CANCELLED, 1, c.SELF_TRADE_PREVENTED)
    assert 3 not in engine.resting


def test_cancel_maker_cancels_resting_orders_and_continues():
    engine = engine_with(limit(1, SELL, 1, 100, user=1), limit(2, SELL, 1, 100, user=2), limit(3, SELL, 1, 101, user=1))
    taker = limit(4, BUY, 3, 101, user=1, stp=c.CANCEL_MAKER)
    engine.place(taker)
    trades, touched = engine.drain()
    assert [t.as_tuple()[1:] for t in trades] == [(100, 1, 2, 4, BUY)]
    cancelled = [(o.id, o.status, o.cancel_reason) for o in touched if o.id in (1, 3)]
    assert cancelled == [(1, c.CANCELLED, c.SELF_TRADE_PREVENTED), (3, c.CANCELLED, c.SELF_TRADE_PREVENTED)]
    assert (taker.status, taker.filled) == (c.PARTIALLY_FILLED, 1)
    assert engine.depth() == ([(101, 2)], [])


def test_cancel_both_cancels_maker_and_taker():
    engine = engine_with(limit(1, SELL, 1, 100, user=1), limit(2, SELL, 1, 100, user=2))
    taker = limit(3, BUY, 2, 100, user=1, stp=c.CANCEL_BOTH)
    engine.place(taker)
    trades, _ = engine.drain()
    assert trades == []
    assert (taker.status, taker.cancel_reason) == (c.CANCELLED, c.SELF_TRADE_PREVENTED)
    assert engine.get(1) is None
    assert engine.depth() == ([], [(100, 1)])


def test_none_lets_a_user_trade_with_itself():
    engine = engine_with(limit(1, SELL, 1, 100, user=1))
    taker = limit(2, BUY, 1, 100, user=1, stp=c.STP_NONE)
    engine.place(taker)
    trades, _ = engine.drain()
    assert [(t.maker_user_id, t.taker_user_id) for t in trades] == [(1, 1)]
    assert taker.status == c.FILLED


def test_prevention_applies_only_to_the_same_user():
    engine = engine_with(limit(1, SELL, 1, 100, user=2))
    taker = limit(2, BUY, 1, 100, user=1, stp=c.CANCEL_BOTH)
    engine.place(taker)
    assert taker.status == c.FILLED
