"""POST /api/v1/orders/batch: per-item answers in request order and the
status that says whether the matcher answered for every placed order."""

from __future__ import annotations

from decimal import Decimal

from matching.models import EngineCommand
from tests.factories import place
from tests.support.state import balance, snapshot

BATCH = "/api/v1/orders/batch"
D = Decimal


def bid(price: str, **fields) -> dict:
    return {"symbol": "BTC-USDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": price, **fields}


def test_a_requote_answers_201_with_each_item_as_the_matcher_left_it(matcher_thread, symbol, alice, alice_api):
    old = place(alice, symbol, "BUY", "1", "100.00", client_order_id="bid-1")
    other = place(alice, symbol, "BUY", "1", "99.00")

    response = alice_api.post(BATCH, {
        "cancel": [{"client_order_id": "bid-1"}, other.id],
        "orders": [bid("101.00", client_order_id="bid-2"), bid("100.50")],
    }, format="json")

    assert response.status_code == 201
    body = response.json()
    assert [(c["order_id"], c["order"]["status"]) for c in body["cancelled"]] == [(old.id, "CANCELLED"), (other.id, "CANCELLED")]
    assert body["cancelled"][0]["client_order_id"] == "bid-1"
    assert [(o["order"]["client_order_id"], o["order"]["price"], o["order"]["status"]) for o in body["orders"]] == [
        ("bid-2", "101.00", "OPEN"), ("", "100.50", "OPEN"),
    ]
    assert balance(alice, "USDT") == (D("1000000") - D("201.50"), D("201.50"))


def test_each_refused_item_carries_its_error_and_the_others_go_through(matcher_thread, symbol, alice, alice_api):
    response = alice_api.post(BATCH, {
        "cancel": [123456789, "not-a-reference", {"client_order_id": "unknown"}],
        "orders": [bid("100.005"), {"symbol": "BTC-USDT"}, bid("100.00", symbol="DOGE-USDT"), bid("100.00")],
    }, format="json")

    assert response.status_code == 201
    body = response.json()
    assert [c.get("error", {}).get("code") for c in body["cancelled"]] == ["ORDER_NOT_FOUND", "VALIDATION_ERROR", "ORDER_NOT_FOUND"]
    assert body["cancelled"][0]["order_id"] == 123456789 and body["cancelled"][2]["client_order_id"] == "unknown"
    assert [o.get("error", {}).get("code") for o in body["orders"]] == ["PRICE_NOT_ON_TICK", "INVALID_QUANTITY", "UNKNOWN_SYMBOL", None]  # as each alone would be
    assert set(body["orders"][1]["error"]["details"]) >= {"side", "type", "quantity"}
    assert body["orders"][3]["order"]["status"] == "OPEN"


def test_cancels_only_answer_200(matcher_thread, symbol, alice, alice_api):
    resting = place(alice, symbol, "SELL", "1", "200.00")

    response = alice_api.post(BATCH, {"cancel": [resting.id]}, format="json")

    assert response.status_code == 200
    assert response.json() == {"cancelled": [{"order_id": resting.id, "order": response.json()["cancelled"][0]["order"]}], "orders": []}
    assert response.json()["cancelled"][0]["order"]["status"] == "CANCELLED"


def test_a_batch_whose_orders_are_all_refused_answers_200(symbol, alice, alice_api):
    response = alice_api.post(BATCH, {"orders": [bid("100.005")]}, format="json")

    assert (response.status_code, response.json()["orders"][0]["error"]["code"]) == (200, "PRICE_NOT_ON_TICK")


def test_a_batch_the_matcher_has_not_answered_is_202_with_pending_orders(symbol, alice, alice_api, settings):
    settings.ORDER_RESULT_TIMEOUT = 0

    response = alice_api.post(BATCH, {"orders": [bid("100.00"), bid("99.00")]}, format="json")

    assert response.status_code == 202
    assert [o["order"]["status"] for o in response.json()["orders"]] == ["PENDING", "PENDING"]


def test_a_resent_batch_answers_with_the_original_orders(symbol, alice, alice_api, settings):
    settings.ORDER_RESULT_TIMEOUT = 0
    body = {"orders": [bid("100.00", client_order_id="q-1"), bid("99.00", client_order_id="q-2")]}
    first = alice_api.post(BATCH, body, format="json").json()
    commands = EngineCommand.objects.count()

    again = alice_api.post(BATCH, body, format="json")

    assert again.status_code == 200
    assert [o["order"]["id"] for o in again.json()["orders"]] == [o["order"]["id"] for o in first["orders"]]
    assert EngineCommand.objects.count() == commands


def test_more_than_fifty_orders_is_400_batch_too_large_and_nothing_is_applied(symbol, alice, alice_api):
    resting = place(alice, symbol, "SELL", "1", "200.00")
    before = snapshot()

    response = alice_api.post(BATCH, {"cancel": [resting.id], "orders": [bid("100.00")] * 51}, format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (400, "BATCH_TOO_LARGE")
    assert snapshot() == before


def test_a_body_without_lists_is_400(alice_api, symbol):
    response = alice_api.post(BATCH, {"orders": {"symbol": "BTC-USDT"}}, format="json")

    assert (response.status_code, response.json()["error"]["code"]) == (400, "VALIDATION_ERROR")
    assert "orders" in response.json()["error"]["details"]
