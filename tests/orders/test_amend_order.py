"""orders.services.amend_order: new quantity, price or stop price for a live
order, its lock grown when accepted and shrunk when the matcher applies it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import DomainError
from matching.host import build_book
from orders.models import Order
from orders.services import amend_order, cancel_order
from riskadmin.services import set_user_limits
from settlement.reconcile import run_all
from tests.factories import place
from tests.support.matcher import process
from tests.support.state import balance, snapshot

D = Decimal


def amend(user, order, **values):
    return amend_order(user=user, order_id=order.id, **{k: D(v) for k, v in values.items()})


def queue(symbol, price: str) -> list[int]:
    engine = build_book(symbol).engine
    return [o.id for o in engine.bids.levels[symbol.scale.to_ticks(D(price))].live_orders()]


def code_of(excinfo) -> str:
    return excinfo.value.code


def assert_money_invariants_hold():
    assert [check.name for check in run_all() if not check.ok] == []


def test_lower_quantity_keeps_time_priority(symbol, alice, bob):
    first = place(alice, symbol, "BUY", "2", "100.00")
    second = place(bob, symbol, "BUY", "1", "100.00")
    process(symbol)

    amend(alice, first, quantity="1")
    process(symbol)

    first.refresh_from_db()
    assert (first.quantity, first.status) == (D("1"), "OPEN")
    assert queue(symbol, "100.00") == [first.id, second.id]


def test_higher_quantity_loses_time_priority(symbol, alice, bob):
    first = place(alice, symbol, "BUY", "2", "100.00")
    second = place(bob, symbol, "BUY", "1", "100.00")
    process(symbol)

    amend(alice, first, quantity="3")
    process(symbol)

    assert queue(symbol, "100.00") == [second.id, first.id]


def test_new_price_loses_time_priority_and_keeps_the_id(symbol, alice, bob):
    first = place(alice, symbol, "BUY", "1", "100.00")
    second = place(bob, symbol, "BUY", "1", "101.00")
    process(symbol)

    amend(alice, first, price="101.00")
    process(symbol)

    first.refresh_from_db()
    assert (first.price, first.status) == (D("101.00"), "OPEN")
    assert queue(symbol, "101.00") == [second.id, first.id]


def test_growth_is_locked_when_the_amend_is_accepted(symbol, alice):
    order = place(alice, symbol, "BUY", "1", "100.00")
    process(symbol)

    amend(alice, order, quantity="3", price="110.00")

    assert balance(alice, "USDT") == (D("999670"), D("330"))
    process(symbol)
    assert balance(alice, "USDT") == (D("999670"), D("330"))
    assert Order.objects.get(id=order.id).locked_amount == D("330")
    assert_money_invariants_hold()


def test_shrink_is_released_when_the_matcher_applies_the_amend(symbol, alice):
    order = place(alice, symbol, "SELL", "5", "100.00")
    process(symbol)

    amend(alice, order, quantity="2")
    assert balance(alice, "BTC") == (D("95"), D("5"))

    process(symbol)
    assert balance(alice, "BTC") == (D("98"), D("2"))
    assert_money_invariants_hold()


def test_lower_buy_price_releases_the_difference_when_applied(symbol, alice):
    order = place(alice, symbol, "BUY", "2", "100.00")
    process(symbol)

    amend(alice, order, price="90.00")
    assert balance(alice, "USDT") == (D("999800"), D("200"))

    process(symbol)
    assert balance(alice, "USDT") == (D("999820"), D("180"))
    assert_money_invariants_hold()


def test_insufficient_balance_leaves_the_order_as_it_was(symbol, alice):
    order = place(alice, symbol, "BUY", "1", "100.00")
    process(symbol)
    before = snapshot()

    with pytest.raises(DomainError) as excinfo:
        amend(alice, order, quantity="100000")

    assert code_of(excinfo) == "INSUFFICIENT_BALANCE"
    assert snapshot() == before
    assert Order.objects.get(id=order.id).locked_amount == D("100")


def test_quantity_not_above_the_filled_part_is_refused(symbol, alice, bob):
    order = place(alice, symbol, "SELL", "2", "100.00")
    place(bob, symbol, "BUY", "1", "100.00")
    process(symbol)

    with pytest.raises(DomainError) as excinfo:
        amend(alice, order, quantity="1")

    assert code_of(excinfo) == "INVALID_QUANTITY"


def test_new_values_pass_the_rules_of_a_new_order(symbol, alice):
    order = place(alice, symbol, "BUY", "1", "100.00")

    with pytest.raises(DomainError) as excinfo:
        amend(alice, order, price="100.001")

    assert code_of(excinfo) == "PRICE_NOT_ON_TICK"


def test_amend_of_a_final_order_is_not_cancellable(symbol, alice):
    order = place(alice, symbol, "BUY", "1", "100.00")
    process(symbol)
    cancel_order(user=alice, order_id=order.id)
    process(symbol)

    with pytest.raises(DomainError) as excinfo:
        amend(alice, order, quantity="2")

    assert code_of(excinfo) == "ORDER_NOT_CANCELLABLE"


def test_a_second_amend_waits_for_the_first(symbol, alice):
    order = place(alice, symbol, "BUY", "1", "100.00")
    process(symbol)
    amend(alice, order, quantity="2")

    with pytest.raises(DomainError) as excinfo:
        amend(alice, order, quantity="3")

    assert code_of(excinfo) == "AMEND_PENDING"


def test_amend_racing_a_fill_is_a_no_op_and_releases_the_growth(symbol, alice, bob):
    order = place(alice, symbol, "SELL", "1", "100.00")
    process(symbol)
    place(bob, symbol, "BUY", "1", "100.00")  # fills it before the amend is applied
    amend(alice, order, quantity="3")
    assert balance(alice, "BTC") == (D("97"), D("3"))

    process(symbol)

    order.refresh_from_db()
    assert (order.status, order.quantity, order.filled_quantity) == ("FILLED", D("1"), D("1"))
    assert balance(alice, "BTC") == (D("99"), D("0"))  # the growth came back, the sold lot went
    assert_money_invariants_hold()


def test_amend_racing_a_partial_fill_keeps_the_lock_sufficient(symbol, alice, bob):
    order = place(alice, symbol, "BUY", "2", "100.00")
    process(symbol)
    place(bob, symbol, "SELL", "1", "100.00")  # journaled first: fills one lot at the old price
    amend(alice, order, quantity="3", price="90.00")  # locks for 2 lots at 100 and 1 at 90
    assert balance(alice, "USDT")[1] == D("290")

    process(symbol)

    order.refresh_from_db()
    assert (order.price, order.quantity, order.filled_quantity, order.status) == (D("90.00"), D("3"), D("1"), "PARTIALLY_FILLED")
    assert order.locked_amount == D("100") + D("180")
    assert_money_invariants_hold()


def test_amended_order_that_now_crosses_trades_at_once(symbol, alice, bob):
    place(bob, symbol, "SELL", "1", "105.00")
    order = place(alice, symbol, "BUY", "1", "100.00")
    process(symbol)

    amend(alice, order, price="105.00")
    process(symbol)

    order.refresh_from_db()
    assert (order.status, order.price, order.executed_quote) == ("FILLED", D("105.00"), D("105"))
    assert_money_invariants_hold()


def test_stop_price_of_an_untriggered_stop_can_change(symbol, alice):
    stop = place(alice, symbol, "SELL", "1", "90.00", type="STOP_LIMIT", stop_price="91.00")
    process(symbol)

    amend(alice, stop, stop_price="95.00", price="94.00")
    process(symbol)

    stop.refresh_from_db()
    assert (stop.status, stop.stop_price, stop.price) == ("UNTRIGGERED", D("95.00"), D("94.00"))


def test_stop_market_buys_are_not_amendable(symbol, alice):
    stop = place(alice, symbol, "BUY", "1", type="STOP_MARKET", stop_price="110.00")

    with pytest.raises(DomainError) as excinfo:
        amend(alice, stop, quantity="2")

    assert code_of(excinfo) == "ORDER_NOT_AMENDABLE"


def test_an_amend_may_not_take_the_order_past_the_users_max_order_size(symbol, alice, operator):
    set_user_limits(user_id=alice.id, actor=operator, max_order_size=D("1000"))
    order = place(alice, symbol, "BUY", "1", "100.00")
    before = snapshot()

    with pytest.raises(DomainError) as refusal:
        amend_order(user=alice, order_id=order.id, quantity=D("20"))

    assert (refusal.value.code, refusal.value.details["limit"]) == ("LIMIT_EXCEEDED", "max_order_size")
    assert snapshot() == before
