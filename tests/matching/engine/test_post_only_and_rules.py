"""Post-only orders and order-type combinations rejected before matching."""

from __future__ import annotations

import pytest

from matching.engine import OrderRuleError, check_order_combination
from matching.engine import constants as c

from .factories import engine_with, limit

BUY, SELL = c.BUY, c.SELL


def test_post_only_rests_when_it_would_not_take():
    engine = engine_with(limit(1, SELL, 1, 101))
    order = limit(2, BUY, 3, 100, user=2, post_only=True)
    engine.place(order)
    assert order.status == c.OPEN
    assert engine.depth() == ([(100, 3)], [(101, 1)])


def test_post_only_is_rejected_when_it_would_take():
    engine = engine_with(limit(1, SELL, 1, 101))
    order = limit(2, BUY, 3, 102, user=2, post_only=True)
    engine.place(order)
    trades, touched = engine.drain()
    assert (order.status, order.reject_reason) == (c.REJECTED, c.POST_ONLY_WOULD_MATCH)
    assert order.reject_reason == "POST_ONLY_WOULD_MATCH"
    assert trades == [] and touched == [order]
    assert engine.depth() == ([], [(101, 1)])


def test_post_only_at_the_best_opposite_price_is_rejected():
    engine = engine_with(limit(1, BUY, 1, 100))
    order = limit(2, SELL, 1, 100, user=2, post_only=True)
    engine.place(order)
    assert order.status == c.REJECTED
    assert engine.get(1).status == c.OPEN


def test_post_only_on_an_empty_opposite_side_rests():
    engine = engine_with()
    order = limit(1, SELL, 1, 100, post_only=True)
    engine.place(order)
    assert order.status == c.OPEN


def test_post_only_ignores_cancelled_levels():
    engine = engine_with(limit(1, SELL, 1, 100), limit(2, SELL, 1, 105))
    engine.cancel(1)
    order = limit(3, BUY, 1, 101, user=2, post_only=True)
    engine.place(order)
    assert order.status == c.OPEN


def test_post_only_with_ioc_or_fok_is_invalid():
    for tif in (c.IOC, c.FOK):
        with pytest.raises(OrderRuleError) as raised:
            check_order_combination(type=c.LIMIT, time_in_force=tif, post_only=True)
        assert raised.value.code == "POST_ONLY_WITH_IOC_OR_FOK"


def test_post_only_market_order_is_invalid():
    with pytest.raises(OrderRuleError) as raised:
        check_order_combination(type=c.MARKET, time_in_force=c.GTC, post_only=True)
    assert raised.value.code == "POST_ONLY_MARKET_ORDER"


def test_post_only_stop_order_is_invalid():
    for kind in (c.STOP_MARKET, c.STOP_LIMIT):
        with pytest.raises(OrderRuleError) as raised:
            check_order_combination(type=kind, time_in_force=c.GTC, post_only=True)
        assert raised.value.code == "POST_ONLY_STOP_ORDER"


def test_valid_combinations_pass():
    check_order_combination(type=c.LIMIT, time_in_force=c.GTC, post_only=True)
    for kind in (c.LIMIT, c.MARKET, c.STOP_MARKET, c.STOP_LIMIT):
        for tif in (c.GTC, c.IOC, c.FOK):
            check_order_combination(type=kind, time_in_force=tif, post_only=False)
