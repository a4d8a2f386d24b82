"""Orders and fills are private: another user's are 404 ORDER_NOT_FOUND and never listed."""

from __future__ import annotations

import pytest

from matching.host import Matcher
from matching.models import EngineCommand
from orders.models import Fill, Order
from tests.conftest import client_for
from tests.factories import make_user, place

from .conftest import assert_error_body


@pytest.fixture
def traded(symbol, alice, bob):
    """alice's resting orders and a trade between alice and carol; bob has nothing."""
    carol = make_user("carol", funds={"USDT": "1000000", "BTC": "100"})
    resting = place(alice, symbol, "BUY", "1", "100", client_order_id="alice-secret-1")
    maker = place(alice, symbol, "SELL", "0.5", "200", client_order_id="alice-secret-2")
    place(carol, symbol, "BUY", "0.5", "200")
    Matcher([symbol.id]).process_batch()
    assert Fill.objects.filter(user=alice).exists()
    return {"resting": resting, "maker": maker, "carol": carol}


def test_get_another_users_order_is_404_order_not_found(traded, bob_api):
    for order in (traded["resting"], traded["maker"]):
        response = bob_api.get(f"/api/v1/orders/{order.id}")
        assert_error_body(response, 404, "ORDER_NOT_FOUND")
        assert "alice-secret" not in response.content.decode()


def test_delete_another_users_order_is_404_and_changes_nothing(traded, bob_api):
    order = traded["resting"]
    commands = EngineCommand.objects.count()
    response = bob_api.delete(f"/api/v1/orders/{order.id}")
    assert_error_body(response, 404, "ORDER_NOT_FOUND")
    order.refresh_from_db()
    assert order.status == "OPEN"
    assert EngineCommand.objects.count() == commands


def test_a_foreign_order_looks_exactly_like_a_missing_one(traded, bob_api):
    existing = traded["resting"].id
    missing = Order.objects.order_by("-id").first().id + 1000
    a = bob_api.get(f"/api/v1/orders/{existing}").json()["error"]
    b = bob_api.get(f"/api/v1/orders/{missing}").json()["error"]
    assert a["code"] == b["code"] == "ORDER_NOT_FOUND"
    assert a["message"].replace(str(existing), "N") == b["message"].replace(str(missing), "N")
    assert set(a["details"]) == set(b["details"])


def test_enumerating_ids_shows_nothing_of_other_users(traded, bob_api):
    ids = list(Order.objects.values_list("id", flat=True))
    for order_id in range(min(ids) - 3, max(ids) + 4):
        assert bob_api.get(f"/api/v1/orders/{order_id}").status_code == 404
        assert bob_api.delete(f"/api/v1/orders/{order_id}").status_code == 404


def test_another_users_orders_and_fills_are_never_listed(traded, bob_api):
    for path in ("/api/v1/orders", "/api/v1/orders?symbol=BTC-USDT", "/api/v1/orders?status=OPEN",
                 "/api/v1/orders?status=FILLED", "/api/v1/orders?limit=500", "/api/v1/fills",
                 "/api/v1/fills?symbol=BTC/USDT", "/api/v1/fills?limit=500"):
        response = bob_api.get(path)
        assert response.status_code == 200, path
        assert response.json()["results"] == [], path


def test_each_user_lists_only_their_own_fills_and_orders(traded, alice, alice_api):
    carol_api = client_for(traded["carol"])
    alice_fills = alice_api.get("/api/v1/fills").json()["results"]
    carol_fills = carol_api.get("/api/v1/fills").json()["results"]
    assert alice_fills and carol_fills
    own_fill_ids = set(Fill.objects.filter(user=alice).values_list("id", flat=True))
    assert {f["id"] for f in alice_fills} == own_fill_ids
    assert not own_fill_ids & {f["id"] for f in carol_fills}
    own_orders = set(Order.objects.filter(user=alice).values_list("id", flat=True))
    assert {o["id"] for o in alice_api.get("/api/v1/orders").json()["results"]} == own_orders
    assert not own_orders & {o["id"] for o in carol_api.get("/api/v1/orders").json()["results"]}


def test_a_cursor_from_another_user_does_not_reveal_their_orders(traded, alice, alice_api, bob_api):
    for i in range(3):
        place(alice, traded["resting"].symbol, "BUY", "0.01", "100", client_order_id=f"alice-more-{i}")
    next_link = alice_api.get("/api/v1/orders?limit=1").json()["next"]
    assert next_link
    cursor = next_link.split("cursor=")[1].split("&")[0]
    response = bob_api.get(f"/api/v1/orders?limit=1&cursor={cursor}")
    assert response.status_code < 500
    if response.status_code == 200:
        assert response.json()["results"] == []
