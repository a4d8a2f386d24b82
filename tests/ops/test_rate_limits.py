"""tradeengine.throttling: per-IP, per-user and order-placement limits."""

from __future__ import annotations

import pytest

from tradeengine.throttling import parse_rate

ORDER = {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "100.00"}


@pytest.fixture
def low_limits(settings, clean_rate_limits):
    settings.RATE_LIMITS = {"ip": "", "user": "5/min", "orders": "2/min"}
    settings.ORDER_RESULT_TIMEOUT = 0
    return settings


def test_over_the_user_limit_is_429_rate_limited_with_retry_after(low_limits, alice_api):
    for _ in range(5):
        assert alice_api.get("/api/v1/account").status_code == 200
    response = alice_api.get("/api/v1/account")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(response["Retry-After"]) <= 60


def test_order_placement_has_its_own_stricter_limit(low_limits, symbol, alice_api):
    assert alice_api.post("/api/v1/orders", ORDER, format="json").status_code in (201, 202)
    assert alice_api.post("/api/v1/orders", ORDER, format="json").status_code in (201, 202)
    refused = alice_api.post("/api/v1/orders", ORDER, format="json")
    assert refused.status_code == 429
    assert "Retry-After" in refused
    assert alice_api.get("/api/v1/orders").status_code == 200  # reads still go through


def test_limits_are_per_user(low_limits, alice_api, bob_api):
    for _ in range(6):
        alice_api.get("/api/v1/account")
    assert alice_api.get("/api/v1/account").status_code == 429
    assert bob_api.get("/api/v1/account").status_code == 200


def test_the_ip_limit_covers_anonymous_requests(settings, clean_rate_limits, db):
    from rest_framework.test import APIClient

    settings.RATE_LIMITS = {"ip": "3/min", "user": "", "orders": ""}
    client = APIClient()
    statuses = [client.get("/api/v1/symbols").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_the_limiter_lets_requests_through_when_redis_is_down(low_limits, monkeypatch, alice_api):
    from tradeengine import throttling

    class Down:
        def register_script(self, script):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(throttling, "get_redis", lambda: Down())
    monkeypatch.setattr(throttling.RateLimitThrottle, "_script", None)
    for _ in range(10):
        assert alice_api.get("/api/v1/account").status_code == 200


def test_rates_parse_like_drf():
    assert parse_rate("100/min") == (100, 60)
    assert parse_rate("5/s") == (5, 1)
    assert parse_rate("10/5m") == (10, 300)
    assert parse_rate("") is None
