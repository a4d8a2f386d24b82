"""orders.services.place_order: what an accepted order locks and journals,
and that every refusal carries its code and writes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection

from core.errors import DomainError
from matching.models import EngineCommand
from orders.models import Order
from orders.services import place_order
from riskadmin.selectors import find_symbol
from tests.factories import make_user, order_request, place
from tests.support.state import balance, snapshot

D = Decimal


def refuse(user, symbol, *args, **fields) -> DomainError:
    """Place an order that must be refused; returns the error after checking
    that nothing (order, command, balance) was written."""
    before = snapshot()
    with pytest.raises(DomainError) as refusal:
        place_order(user=user, request=order_request(symbol, *args, **fields))
    assert snapshot() == before
    return refusal.value


# -- what an accepted order locks ---------------------------------------------


def test_limit_buy_locks_price_times_quantity_of_quote(symbol, alice):
    order = place(alice, symbol, "BUY", "0.5", "20000.00")

    assert (order.locked_asset, order.locked_amount) == ("USDT", D("10000"))
    assert balance(alice, "USDT") == (D("990000"), D("10000"))
    assert balance(alice, "BTC") == (D("100"), D("0"))


def test_limit_sell_locks_its_quantity_of_base(symbol, alice):
    order = place(alice, symbol, "SELL", "1.5", "30000.00")

    assert (order.locked_asset, order.locked_amount) == ("BTC", D("1.5"))
    assert balance(alice, "BTC") == (D("98.5"), D("1.5"))
    assert balance(alice, "USDT") == (D("1000000"), D("0"))


def test_market_sell_locks_its_quantity_of_base(symbol, alice):
    order = place(alice, symbol, "SELL", "2")

    assert (order.type, order.locked_asset, order.locked_amount) == ("MARKET", "BTC", D("2"))
    assert balance(alice, "BTC") == (D("98"), D("2"))


def test_market_buy_locks_all_available_quote(symbol, alice):
    place(alice, symbol, "BUY", "1", "10000.00")  # already locks 10000

    order = place(alice, symbol, "BUY", "1")

    assert (order.locked_asset, order.locked_amount) == ("USDT", D("990000"))
    assert balance(alice, "USDT") == (D("0"), D("1000000"))


def test_market_buy_with_quote_order_qty_locks_only_that_much(symbol, alice):
    order = place(alice, symbol, "BUY", "1", quote_order_qty="2500.5")

    assert order.locked_amount == D("2500.5")
    assert balance(alice, "USDT") == (D("997499.5"), D("2500.5"))


def test_stop_market_buy_locks_stop_price_times_quantity_plus_five_percent(symbol, alice):
    order = place(alice, symbol, "BUY", "0.5", type="STOP_MARKET", stop_price="40000.00")

    assert order.locked_amount == D("21000")  # 40000 x 0.5 x 1.05
    assert balance(alice, "USDT") == (D("979000"), D("21000"))


def test_stop_limit_buy_locks_its_limit_price_times_quantity(symbol, alice):
    order = place(alice, symbol, "BUY", "0.5", "41000.00", type="STOP_LIMIT", stop_price="40000.00")

    assert order.locked_amount == D("20500")


# -- what an accepted order writes --------------------------------------------


def test_accepted_order_is_pending_with_an_unprocessed_place_command(symbol, alice):
    order, command = place_order(user=alice, request=order_request(symbol, "BUY", "1", "50000.00"))

    order.refresh_from_db()
    assert order.status == "PENDING"
    assert (order.filled_quantity, order.executed_quote) == (D("0"), D("0"))
    assert list(EngineCommand.objects.filter(order=order)) == [command]
    assert (command.kind, command.symbol_id, command.processed_at) == ("PLACE", symbol.id, None)


def test_order_and_lock_roll_back_when_the_command_cannot_be_written(symbol, alice):
    # The command journal refuses new rows (DDL is transactional in
    # PostgreSQL, so the constraint disappears with the test's transaction).
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE matching_enginecommand ADD CONSTRAINT refuse_new_commands CHECK (false) NOT VALID"
        )
    before = snapshot()

    with pytest.raises(IntegrityError):
        place_order(user=alice, request=order_request(symbol, "BUY", "1", "50000.00"))

    assert snapshot() == before
    assert balance(alice, "USDT") == (D("1000000"), D("0"))


# -- refusals -------------------------------------------------------------------


def test_unknown_symbol_is_refused(db):
    with pytest.raises(DomainError) as refusal:
        find_symbol("ETH/USDT")

    assert (refusal.value.code, refusal.value.status) == ("UNKNOWN_SYMBOL", 404)


def test_symbol_is_found_by_slash_or_dash_name_in_any_case(symbol):
    assert find_symbol("BTC/USDT") == symbol
    assert find_symbol("btc-usdt") == symbol


def test_order_on_a_halted_symbol_is_refused(symbol, alice):
    symbol.status = symbol.Status.HALTED
    symbol.save()

    assert refuse(alice, symbol, "BUY", "1", "50000.00").code == "SYMBOL_HALTED"


def test_price_off_the_tick_is_refused(symbol, alice):
    assert refuse(alice, symbol, "BUY", "1", "50000.005").code == "PRICE_NOT_ON_TICK"


def test_stop_price_off_the_tick_is_refused(symbol, alice):
    error = refuse(alice, symbol, "BUY", "1", type="STOP_MARKET", stop_price="40000.001")

    assert error.code == "PRICE_NOT_ON_TICK"


def test_quantity_off_the_step_is_refused(symbol, alice):
    assert refuse(alice, symbol, "BUY", "1.0005", "50000.00").code == "QUANTITY_NOT_ON_STEP"


def test_zero_quantity_is_refused(symbol, alice):
    assert refuse(alice, symbol, "BUY", "0", "50000.00").code == "INVALID_QUANTITY"


def test_negative_quantity_is_refused(symbol, alice):
    assert refuse(alice, symbol, "SELL", "-1", "50000.00").code == "INVALID_QUANTITY"


def test_quantity_below_the_symbol_minimum_is_refused(symbol, alice):
    symbol.min_quantity = D("0.01")
    symbol.save()

    assert refuse(alice, symbol, "BUY", "0.009", "50000.00").code == "INVALID_QUANTITY"


def test_limit_order_without_a_price_is_refused(symbol, alice):
    assert refuse(alice, symbol, "BUY", "1", type="LIMIT").code == "INVALID_PRICE"


def test_market_order_with_a_price_is_refused(symbol, alice):
    assert refuse(alice, symbol, "BUY", "1", "50000.00", type="MARKET").code == "INVALID_PRICE"


def test_negative_price_is_refused(symbol, alice):
    assert refuse(alice, symbol, "BUY", "1", "-50000.00").code == "INVALID_PRICE"


def test_order_worth_less_than_the_minimum_notional_is_refused(symbol, alice):
    assert refuse(alice, symbol, "BUY", "0.001", "999.99").code == "MIN_NOTIONAL"


def test_limit_buy_beyond_the_available_quote_is_refused(symbol, alice):
    place(alice, symbol, "BUY", "1", "500000.00")  # half the quote is locked now

    assert refuse(alice, symbol, "BUY", "1", "500000.01").code == "INSUFFICIENT_BALANCE"


def test_sell_beyond_the_available_base_is_refused(symbol, alice):
    assert refuse(alice, symbol, "SELL", "100.001", "50000.00").code == "INSUFFICIENT_BALANCE"


def test_market_buy_without_any_quote_is_refused(symbol):
    pauper = make_user(funds={"BTC": "1"})

    assert refuse(pauper, symbol, "BUY", "1").code == "INSUFFICIENT_BALANCE"


def test_post_only_ioc_is_refused(symbol, alice):
    error = refuse(alice, symbol, "BUY", "1", "50000.00", post_only=True, time_in_force="IOC")

    assert error.code == "POST_ONLY_WITH_IOC_OR_FOK"


def test_post_only_fok_is_refused(symbol, alice):
    error = refuse(alice, symbol, "BUY", "1", "50000.00", post_only=True, time_in_force="FOK")

    assert error.code == "POST_ONLY_WITH_IOC_OR_FOK"


def test_post_only_market_order_is_refused(symbol, alice):
    assert refuse(alice, symbol, "BUY", "1", post_only=True).code == "POST_ONLY_MARKET_ORDER"


def test_post_only_stop_order_is_refused(symbol, alice):
    error = refuse(alice, symbol, "SELL", "1", "39000.00", type="STOP_LIMIT", stop_price="40000.00", post_only=True)

    assert error.code == "POST_ONLY_STOP_ORDER"


def test_reused_client_order_id_with_other_parameters_is_refused(symbol, alice):
    original = place(alice, symbol, "BUY", "1", "50000.00", client_order_id="mine-1")

    error = refuse(alice, symbol, "BUY", "2", "50000.00", client_order_id="mine-1")

    assert (error.code, error.status) == ("DUPLICATE_CLIENT_ORDER_ID", 409)
    assert error.details["order_id"] == original.id


def test_reused_client_order_id_with_another_post_only_flag_is_refused(symbol, alice):
    place(alice, symbol, "BUY", "1", "50000.00", client_order_id="mine-1")

    error = refuse(alice, symbol, "BUY", "1", "50000.00", client_order_id="mine-1", post_only=True)

    assert error.code == "DUPLICATE_CLIENT_ORDER_ID"


def test_reused_client_order_id_with_another_self_trade_prevention_is_refused(symbol, alice):
    place(alice, symbol, "BUY", "1", "50000.00", client_order_id="mine-1")

    error = refuse(alice, symbol, "BUY", "1", "50000.00", client_order_id="mine-1", self_trade_prevention="NONE")

    assert error.code == "DUPLICATE_CLIENT_ORDER_ID"


# -- client_order_id ----------------------------------------------------------


def test_repeated_client_order_id_returns_the_original_and_writes_nothing(symbol, alice):
    original = place(alice, symbol, "BUY", "1", "50000.00", client_order_id="mine-1")
    before = snapshot()

    order, command = place_order(
        user=alice, request=order_request(symbol, "BUY", "1.000", "50000", client_order_id="mine-1")
    )

    assert (order.id, command) == (original.id, None)
    assert snapshot() == before


def test_client_order_id_is_unique_per_user_not_globally(symbol, alice, bob):
    mine = place(alice, symbol, "BUY", "1", "50000.00", client_order_id="same")

    theirs = place(bob, symbol, "BUY", "1", "50000.00", client_order_id="same")

    assert theirs.id != mine.id
    assert Order.objects.filter(client_order_id="same").count() == 2
