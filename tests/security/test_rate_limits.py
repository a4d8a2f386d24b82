"""tradeengine.throttling: per-IP, per-user and order-placement limits answer
429 RATE_LIMITED with Retry-After; a refused request counts nowhere; the
limiter fails open without Redis; the shipped defaults are a venue's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rest_framework.test import APIClient

from core.redis import get_redis
from tradeengine import throttling
from tradeengine.throttling import parse_rate

from .conftest import assert_error_body

REPO = Path(__file__).resolve().parents[2]
ORDER = {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "100.00"}
NO_LIMITS = {"ip": "", "user": "", "orders": "", "orders_day": ""}


def assert_limited(response) -> None:
    assert_error_body(response, 429, "RATE_LIMITED")
    assert 1 <= int(response["Retry-After"]) <= 60


def limits(settings, **rates: str) -> None:
    settings.RATE_LIMITS = {**NO_LIMITS, **rates}


def place(client: APIClient):
    return client.post("/api/v1/orders", ORDER, format="json")


def test_over_the_user_limit_is_429_rate_limited_with_retry_after(settings, clean_rate_limits, alice_api):
    limits(settings, user="3/min")
    assert [alice_api.get("/api/v1/balances").status_code for _ in range(3)] == [200, 200, 200]
    assert_limited(alice_api.get("/api/v1/balances"))
    assert_limited(alice_api.get("/api/v1/account"))  # every endpoint shares the user bucket


def test_a_limited_user_does_not_limit_another(settings, clean_rate_limits, alice_api, bob_api):
    limits(settings, user="2/min")
    for _ in range(3):
        alice_api.get("/api/v1/account")
    assert_limited(alice_api.get("/api/v1/account"))
    assert bob_api.get("/api/v1/account").status_code == 200


def test_order_placement_has_its_own_stricter_limit(settings, clean_rate_limits, symbol, alice, alice_api):
    from orders.models import Order

    limits(settings, user="100/min", orders="2/min")
    assert [place(alice_api).status_code for _ in range(2)] == [202, 202]
    assert_limited(place(alice_api))
    assert Order.objects.filter(user=alice).count() == 2  # the refused one was not placed
    assert alice_api.get("/api/v1/orders").status_code == 200  # reads still go through


def test_the_daily_order_bucket_refuses_too(settings, clean_rate_limits, symbol, alice_api):
    limits(settings, orders="100/10s", orders_day="3/day")
    assert [place(alice_api).status_code for _ in range(3)] == [202, 202, 202]
    refused = place(alice_api)
    assert_error_body(refused, 429, "RATE_LIMITED")
    assert 86_000 < int(refused["Retry-After"]) <= 86_400  # the day's window, not the 10 s one


def test_a_refused_request_counts_in_no_bucket(settings, clean_rate_limits, symbol, alice, alice_api):
    limits(settings, orders="2/10s", orders_day="1000/day")
    for _ in range(5):
        place(alice_api)
    day = throttling.bucket("orders_day", str(alice.id), "1000/day")
    assert int(get_redis().get(day.key)) == 2  # hammering the 10 s limit leaves the day's budget alone


def test_each_item_of_a_batch_counts_as_one_order(settings, clean_rate_limits, symbol, alice, alice_api):
    limits(settings, orders="5/10s", orders_day="1000/day")
    placed = place(alice_api).json()
    batch = {"cancel": [placed["id"]], "orders": [ORDER, ORDER]}
    assert alice_api.post("/api/v1/orders/batch", batch, format="json").status_code == 202
    assert_limited(alice_api.post("/api/v1/orders/batch", {"orders": [ORDER, ORDER]}, format="json"))  # 1 + 3 + 2 > 5
    day = throttling.bucket("orders_day", str(alice.id), "1000/day")
    assert int(get_redis().get(day.key)) == 4


def test_the_ip_limit_covers_anonymous_requests(settings, clean_rate_limits, db):
    limits(settings, ip="3/min")
    client = APIClient()
    assert [client.get("/api/v1/symbols").status_code for _ in range(3)] == [200, 200, 200]
    assert_limited(client.get("/api/v1/symbols"))


def test_password_guessing_on_the_token_endpoint_is_limited(settings, clean_rate_limits, alice):
    limits(settings, ip="3/min")
    client = APIClient()
    guesses = [client.post("/api/v1/auth/token", {"username": "alice", "password": f"guess-{i}"}, format="json")
               for i in range(3)]
    assert [r.status_code for r in guesses] == [401, 401, 401]
    limited = client.post("/api/v1/auth/token", {"username": "alice", "password": "pass-word-123"}, format="json")
    assert_limited(limited)
    assert "access" not in limited.json()


def test_the_limiter_lets_requests_through_when_redis_is_down(settings, monkeypatch, alice_api):
    class Down:
        def register_script(self, script):
            raise ConnectionError("redis is down")

    limits(settings, user="5/min", orders="2/min")
    monkeypatch.setattr(throttling, "get_redis", lambda: Down())
    for _ in range(10):
        assert alice_api.get("/api/v1/account").status_code == 200


def test_rates_parse_like_drf():
    assert parse_rate("100/min") == (100, 60)
    assert parse_rate("5/s") == (5, 1)
    assert parse_rate("10/5m") == (10, 300)
    assert parse_rate("100/10s") == (100, 10)
    assert parse_rate("200000/day") == (200_000, 86_400)
    assert parse_rate("5/15min") == (5, 900)
    assert parse_rate("") is None


def test_the_shipped_defaults_are_a_venue_s_not_limits_in_name_only():
    code = ("import json, django; django.setup(); from django.conf import settings; "
            "print(json.dumps(settings.RATE_LIMITS)); print(json.dumps(settings.LOGIN_THROTTLE))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RATE_LIMIT_", "LOGIN_THROTTLE_"))}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60,
                            env={**env, "DJANGO_SETTINGS_MODULE": "tradeengine.settings"})
    assert result.returncode == 0, result.stderr
    rate_limits, login = result.stdout.splitlines()
    assert json.loads(rate_limits) == {"ip": "1200/min", "user": "1200/min", "orders": "100/10s", "orders_day": "200000/day"}
    assert json.loads(login) == {"ip": "20/15min", "username": "5/15min"}


def test_an_operator_raises_one_users_order_rates(
    settings, clean_rate_limits, symbol, alice, bob, alice_api, bob_api, operator_api, django_capture_on_commit_callbacks
):
    limits(settings, orders="2/10s", orders_day="100/day")
    with django_capture_on_commit_callbacks(execute=True):
        assert operator_api.post(f"/api/v1/admin/limits/user/{alice.id}", {"orders_per_10s": 4}, format="json").status_code == 200
    assert [place(alice_api).status_code for _ in range(4)] == [202] * 4
    assert_limited(place(alice_api))
    assert [place(bob_api).status_code for _ in range(2)] == [202, 202]  # the venue default still holds for others
    assert_limited(place(bob_api))


def test_clearing_an_override_restores_the_venue_limit_at_once(
    settings, clean_rate_limits, symbol, alice, alice_api, operator_api, django_capture_on_commit_callbacks
):
    limits(settings, orders="100/10s", orders_day="2/day")
    with django_capture_on_commit_callbacks(execute=True):  # the cached override is dropped on commit
        operator_api.post(f"/api/v1/admin/limits/user/{alice.id}", {"orders_per_day": 1000}, format="json")
    assert [place(alice_api).status_code for _ in range(3)] == [202] * 3
    with django_capture_on_commit_callbacks(execute=True):
        operator_api.post(f"/api/v1/admin/limits/user/{alice.id}", {"orders_per_day": None}, format="json")
    assert_error_body(place(alice_api), 429, "RATE_LIMITED")  # back to 2 a day: the third was the last
