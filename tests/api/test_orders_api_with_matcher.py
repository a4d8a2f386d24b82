"""POST and DELETE answering after the matcher applied their command.

The matcher runs in a background thread (the matcher_thread fixture).
"""

from __future__ import annotations

from tests.factories import place

ORDERS = "/api/v1/orders"


def test_place_answers_201_with_the_order_as_matched(matcher_thread, symbol, bob, alice_api):
    place(bob, symbol, "SELL", "1", "50000.00")
    order = {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "50000"}

    response = alice_api.post(ORDERS, order, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["filled_quantity"], body["remaining_quantity"]) == ("FILLED", "1.000", "0.000")
    assert [(f["price"], f["quantity"], f["liquidity"]) for f in body["fills"]] == [("50000.00", "1.000", "TAKER")]


def test_cancel_answers_200_with_the_order_cancelled(matcher_thread, symbol, alice_api):
    order = {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "40000"}
    placed = alice_api.post(ORDERS, order, format="json")
    assert (placed.status_code, placed.json()["status"]) == (201, "OPEN")

    response = alice_api.delete(f"{ORDERS}/{placed.json()['id']}")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["cancel_reason"]) == ("CANCELLED", "Cancelled by user")
