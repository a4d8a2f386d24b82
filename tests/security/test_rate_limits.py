"""Rate limits answer 429 RATE_LIMITED with Retry-After: per user, per order placement, per IP."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from .conftest import assert_error_body

ORDER = {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "100.00"}


def assert_limited(response) -> None:
    assert_error_body(response, 429, "RATE_LIMITED")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_the_user_limit(settings, clean_rate_limits, alice_api):
    settings.RATE_LIMITS = {"ip": "", "user": "3/min", "orders": ""}
    assert [alice_api.get("/api/v1/balances").status_code for _ in range(3)] == [200, 200, 200]
    assert_limited(alice_api.get("/api/v1/balances"))
    assert_limited(alice_api.get("/api/v1/orders"))  # every endpoint shares the user bucket


def test_the_order_placement_limit(settings, clean_rate_limits, symbol, alice, alice_api):
    from orders.models import Order

    settings.RATE_LIMITS = {"ip": "", "user": "", "orders": "2/min"}
    assert [alice_api.post("/api/v1/orders", ORDER, format="json").status_code for _ in range(2)] == [202, 202]
    assert_limited(alice_api.post("/api/v1/orders", ORDER, format="json"))
    assert Order.objects.filter(user=alice).count() == 2  # the refused one was not placed


def test_the_ip_limit_covers_anonymous_requests(settings, clean_rate_limits, db):
    settings.RATE_LIMITS = {"ip": "2/min", "user": "", "orders": ""}
    client = APIClient()
    assert [client.get("/api/v1/symbols").status_code for _ in range(2)] == [200, 200]
    assert_limited(client.get("/api/v1/symbols"))


def test_password_guessing_on_the_token_endpoint_is_limited(settings, clean_rate_limits, alice):
    settings.RATE_LIMITS = {"ip": "3/min", "user": "", "orders": ""}
    client = APIClient()
    guesses = [client.post("/api/v1/auth/token", {"username": "alice", "password": f"guess-{i}"}, format="json")
               for i in range(3)]
    assert [r.status_code for r in guesses] == [401, 401, 401]
    limited = client.post("/api/v1/auth/token", {"username": "alice", "password": "pass-word-123"}, format="json")
    assert_limited(limited)
    assert "access" not in limited.json()


def test_a_limited_user_does_not_limit_another(settings, clean_rate_limits, alice_api, bob_api):
    settings.RATE_LIMITS = {"ip": "", "user": "2/min", "orders": ""}
    for _ in range(3):
        alice_api.get("/api/v1/account")
    assert_limited(alice_api.get("/api/v1/account"))
    assert bob_api.get("/api/v1/account").status_code == 200
