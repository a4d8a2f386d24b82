"""GET /api/v1/account and GET /api/v1/balances."""

from __future__ import annotations

from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import make_user, place


def test_account_shows_id_username_and_staff_flag(alice, alice_api):
    response = alice_api.get("/api/v1/account")

    assert response.status_code == 200
    assert response.json() == {"id": alice.id, "username": "alice", "is_staff": False}


def test_account_of_a_staff_user_says_so(db):
    operator = make_user("operator", is_staff=True)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(operator)}")

    assert client.get("/api/v1/account").json()["is_staff"] is True


def test_balances_list_each_asset_with_amounts_as_strings(alice_api):
    response = alice_api.get("/api/v1/balances")

    assert response.status_code == 200
    assert response.json() == [
        {"asset": "BTC", "available": "100", "locked": "0"},
        {"asset": "USDT", "available": "1000000", "locked": "0"},
    ]


def test_balances_show_what_an_order_locked(symbol, alice, alice_api):
    place(alice, symbol, "BUY", "0.123", "50000.01")

    usdt = {b["asset"]: b for b in alice_api.get("/api/v1/balances").json()}["USDT"]

    assert usdt == {"asset": "USDT", "available": "993849.99877", "locked": "6150.00123"}


def test_balances_are_only_the_callers_own(alice, bob_api):
    make_user("carol", funds={"ETH": "5"})

    assets = [b["asset"] for b in bob_api.get("/api/v1/balances").json()]

    assert assets == ["BTC", "USDT"]
