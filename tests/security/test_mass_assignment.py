"""Fields a trader must not set through POST /orders are ignored (or refused)."""

from __future__ import annotations

from decimal import Decimal

from orders.models import Order
from settlement.models import Balance

ORDER = {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "100"}
FORGED = {
    "id": 1,
    "user": None,
    "user_id": None,
    "status": "FILLED",
    "filled_quantity": "1",
    "remaining_quantity": "0",
    "executed_quote": "100",
    "average_price": "1",
    "locked_amount": "0",
    "reject_reason": "",
    "cancel_reason": "",
    "created_at": "2000-01-01T00:00:00Z",
    "fills": [{"price": "1", "quantity": "1", "fee": "0", "liquidity": "MAKER"}],
}


def balances(user) -> dict:
    return {b.asset: (b.available, b.locked) for b in Balance.objects.filter(user=user)}


def test_forged_fields_are_ignored_and_the_order_is_the_callers(symbol, alice, bob, alice_api, bob_api):
    bob_api.post("/api/v1/orders", {**ORDER, "client_order_id": "plain"}, format="json")  # the same order, honestly
    bob_order = Order.objects.get(user=bob)
    forged = {**FORGED, "id": bob_order.id, "user": bob.id, "user_id": bob.id}

    response = alice_api.post("/api/v1/orders", {**ORDER, **forged, "client_order_id": "forged"}, format="json")

    assert response.status_code in (201, 202, 400), response.content[:300]
    if response.status_code == 400:
        assert not Order.objects.filter(user=alice).exists()
        return
    body = response.json()
    assert body["id"] != bob_order.id
    assert body["status"] == "PENDING"
    assert body["filled_quantity"] == "0.000" and body["remaining_quantity"] == "1.000"
    assert Decimal(body["executed_quote"]) == 0 and body["average_price"] is None and body["fills"] == []
    order = Order.objects.get(id=body["id"])
    assert order.user_id == alice.id
    assert order.status == "PENDING" and order.filled_quantity == 0 and order.executed_quote == 0
    assert order.created_at.year > 2000
    # bob's order and balances are untouched; alice locked exactly what bob's identical order locked.
    bob_order_after = Order.objects.get(id=bob_order.id)
    assert (bob_order_after.user_id, bob_order_after.status, bob_order_after.filled_quantity) == (bob.id, bob_order.status, 0)
    assert Order.objects.filter(user=bob).count() == 1
    assert balances(alice) == balances(bob)
    assert balances(alice)["USDT"][1] > 0


def test_forged_fields_on_a_sell_do_not_unlock_or_credit(symbol, alice, bob, alice_api, bob_api):
    sell = {**ORDER, "side": "SELL", "price": "200"}
    bob_api.post("/api/v1/orders", sell, format="json")
    response = alice_api.post("/api/v1/orders", {**sell, **FORGED, "user": bob.id, "user_id": bob.id, "id": None}, format="json")
    assert response.status_code in (201, 202, 400)
    if response.status_code != 400:
        assert Order.objects.get(id=response.json()["id"]).user_id == alice.id
        assert balances(alice) == balances(bob)


def test_deposit_and_balance_fields_cannot_be_posted_by_a_trader(symbol, alice, alice_api):
    before = balances(alice)
    for path, body in (("/api/v1/balances", {"asset": "USDT", "available": "9999999", "locked": "0"}),
                       ("/api/v1/account", {"is_staff": True, "id": 1}),
                       ("/api/v1/admin/deposits", {"user_id": alice.id, "asset": "USDT", "amount": "9999999"})):
        response = alice_api.post(path, body, format="json")
        assert response.status_code in (403, 405), (path, response.status_code)
    assert balances(alice) == before
