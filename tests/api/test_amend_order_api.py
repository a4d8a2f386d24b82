"""PATCH /api/v1/orders/{id} and /api/v1/orders/by-client-id/{client_order_id}."""

from __future__ import annotations

from decimal import Decimal

from tests.factories import place
from tests.support.state import balance

ORDERS = "/api/v1/orders"
D = Decimal


def test_amend_answers_200_with_the_order_as_the_matcher_left_it(matcher_thread, symbol, alice, alice_api):
    placed = alice_api.post(ORDERS, {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "100"}, format="json")

    response = alice_api.patch(f"{ORDERS}/{placed.json()['id']}", {"quantity": "2", "price": "101"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["quantity"], body["price"]) == ("OPEN", "2.000", "101.00")
    assert balance(alice, "USDT") == (D("999798"), D("202"))


def test_amend_by_client_id(matcher_thread, symbol, alice, alice_api):
    order = place(alice, symbol, "SELL", "3", "100.00", client_order_id="ask-1")

    response = alice_api.patch(f"{ORDERS}/by-client-id/ask-1", {"quantity": "1"}, format="json")

    assert (response.status_code, response.json()["id"], response.json()["quantity"]) == (200, order.id, "1.000")
    assert balance(alice, "BTC") == (D("99"), D("1"))


def test_amend_answers_202_when_the_matcher_is_late(symbol, alice, alice_api, settings):
    settings.ORDER_RESULT_TIMEOUT = 0
    order = place(alice, symbol, "BUY", "1", "100.00")

    response = alice_api.patch(f"{ORDERS}/{order.id}", {"quantity": "2"}, format="json")

    assert (response.status_code, response.json()["status"], response.json()["quantity"]) == (202, "PENDING", "1.000")


def test_amend_of_a_final_order_is_409(matcher_thread, symbol, alice, alice_api):
    placed = alice_api.post(ORDERS, {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "100"}, format="json")
    alice_api.delete(f"{ORDERS}/{placed.json()['id']}")

    response = alice_api.patch(f"{ORDERS}/{placed.json()['id']}", {"quantity": "2"}, format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (409, "ORDER_NOT_CANCELLABLE")


def test_amend_needs_a_new_value(symbol, alice, alice_api):
    order = place(alice, symbol, "BUY", "1", "100.00")

    response = alice_api.patch(f"{ORDERS}/{order.id}", {}, format="json")

    assert response.status_code == 400


def test_amend_beyond_the_balance_is_insufficient_balance(symbol, alice, alice_api):
    order = place(alice, symbol, "BUY", "1", "100.00")

    response = alice_api.patch(f"{ORDERS}/{order.id}", {"quantity": "100000"}, format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (400, "INSUFFICIENT_BALANCE")
    assert balance(alice, "USDT") == (D("999900"), D("100"))
