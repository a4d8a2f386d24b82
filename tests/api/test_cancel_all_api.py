"""DELETE /api/v1/orders (cancel-all) and the by-client-id endpoints."""

from __future__ import annotations

from decimal import Decimal

from orders.models import Order
from tests.factories import make_symbol, place
from tests.support.state import balance

ORDERS = "/api/v1/orders"
D = Decimal


def test_cancel_all_cancels_every_own_live_order_stops_included(matcher_thread, symbol, alice, bob, alice_api):
    resting = place(alice, symbol, "BUY", "1", "100.00")
    stop = place(alice, symbol, "SELL", "1", None, type="STOP_MARKET", stop_price="90.00")
    others = place(bob, symbol, "BUY", "1", "100.00")

    response = alice_api.delete(ORDERS)

    assert response.status_code == 200
    cancelled = response.json()["cancelled"]
    assert [(o["id"], o["status"]) for o in cancelled] == [(resting.id, "CANCELLED"), (stop.id, "CANCELLED")]
    assert Order.objects.get(id=others.id).status == "OPEN"
    assert balance(alice, "USDT")[1] == D("0") and balance(alice, "BTC")[1] == D("0")


def test_cancel_all_of_one_symbol_leaves_the_other_symbols_alone(matcher_thread, symbol, alice, alice_api):
    other = place(alice, make_symbol("ETH/USDT"), "BUY", "1", "100.00")
    mine = place(alice, symbol, "BUY", "1", "100.00")

    response = alice_api.delete(f"{ORDERS}?symbol=BTC-USDT")

    assert response.status_code == 200
    assert [o["id"] for o in response.json()["cancelled"]] == [mine.id]
    assert Order.objects.get(id=other.id).status == "PENDING"


def test_cancel_all_without_live_orders_answers_an_empty_list(symbol, alice_api):
    response = alice_api.delete(ORDERS)

    assert (response.status_code, response.json()) == (200, {"cancelled": []})


def test_cancel_all_answers_202_with_pending_orders_when_the_matcher_is_late(symbol, alice, alice_api, settings):
    settings.ORDER_RESULT_TIMEOUT = 0
    order = place(alice, symbol, "BUY", "1", "100.00")

    response = alice_api.delete(ORDERS)

    assert response.status_code == 202
    assert [(o["id"], o["status"]) for o in response.json()["cancelled"]] == [(order.id, "PENDING")]


def test_get_by_client_id_answers_the_order(symbol, alice, alice_api):
    order = place(alice, symbol, "BUY", "1", "100.00", client_order_id="quote-1")

    response = alice_api.get(f"{ORDERS}/by-client-id/quote-1")

    assert (response.status_code, response.json()["id"]) == (200, order.id)


def test_another_users_client_id_is_not_found(symbol, bob, alice_api):
    place(bob, symbol, "BUY", "1", "100.00", client_order_id="quote-1")

    response = alice_api.delete(f"{ORDERS}/by-client-id/quote-1")

    assert (response.status_code, response.json()["error"]["code"]) == (404, "ORDER_NOT_FOUND")


def test_delete_by_client_id_cancels_the_order(matcher_thread, symbol, alice, alice_api):
    order = place(alice, symbol, "BUY", "1", "100.00", client_order_id="quote-1")

    response = alice_api.delete(f"{ORDERS}/by-client-id/quote-1")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["status"]) == (order.id, "CANCELLED")
