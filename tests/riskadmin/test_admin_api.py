"""The operator API: staff only, thin views over the riskadmin services."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from matching.models import EngineCommand, MatcherState
from riskadmin import services
from riskadmin.models import AuditLog, Symbol
from tests.factories import place

GETS = [
    "/api/v1/admin/health/detailed",
    "/api/v1/admin/metrics",
    "/api/v1/admin/stats",
    "/api/v1/admin/performance",
    "/api/v1/admin/limits/user/1",
    "/api/v1/admin/limits/symbol/BTC-USDT",
    "/api/v1/admin/orderbook/stats",
    "/api/v1/admin/audit",
]
POSTS = [
    "/api/v1/admin/limits/user/1",
    "/api/v1/admin/limits/symbol/BTC-USDT",
    "/api/v1/admin/trading/halt/BTC-USDT",
    "/api/v1/admin/trading/resume/BTC-USDT",
    "/api/v1/admin/orders/cancel-all/1",
]
ALL = [("get", p) for p in GETS] + [("post", p) for p in POSTS]


@pytest.mark.parametrize("method,path", ALL)
def test_unauthenticated_is_401_with_the_error_body(db, method, path):
    response = getattr(APIClient(), method)(path, {}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"


@pytest.mark.parametrize("method,path", ALL)
def test_trader_is_403_with_the_error_body(symbol, alice_api, method, path):
    response = getattr(alice_api, method)(path, {"reason": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"
    assert Symbol.objects.get(id=symbol.id).status == "TRADING"
    assert not AuditLog.objects.exists()


# The per-user overrides of the venue defaults, unset.
NO_OVERRIDES = {"orders_per_10s": None, "orders_per_day": None, "maker_fee": None, "taker_fee": None}


def test_user_limits_round_trip_and_partial_update(alice, operator_api):
    url = f"/api/v1/admin/limits/user/{alice.id}"
    assert operator_api.get(url).json() == {
        "user_id": alice.id, "max_order_size": None, "max_daily_volume": None, "max_open_orders": None, "requires_2fa_above": None,
        **NO_OVERRIDES,
    }
    operator_api.post(url, {"max_order_size": "1000", "max_open_orders": 5}, format="json")
    response = operator_api.post(url, {"requires_2fa_above": "500.5"}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "user_id": alice.id, "max_order_size": "1000", "max_daily_volume": None, "max_open_orders": 5, "requires_2fa_above": "500.5",
        **NO_OVERRIDES,
    }
    assert operator_api.get(url).json() == response.json()
    assert AuditLog.objects.filter(action="limits.user.set", target=f"user:{alice.id}").count() == 2


def test_limits_of_an_unknown_user_are_404(db, operator_api):
    assert operator_api.get("/api/v1/admin/limits/user/999999").status_code == 404
    assert operator_api.post("/api/v1/admin/limits/user/999999", {"max_open_orders": 1}, format="json").status_code == 404


def test_negative_limit_is_a_validation_error(alice, operator_api):
    response = operator_api.post(f"/api/v1/admin/limits/user/{alice.id}", {"max_order_size": "-1"}, format="json")
    assert response.status_code == 400


def test_symbol_limits_round_trip(symbol, operator_api):
    url = "/api/v1/admin/limits/symbol/BTC-USDT"
    response = operator_api.post(url, {"min_order_size": "0.01", "max_order_size": "10", "max_price_deviation": "0.05"}, format="json")
    assert response.json() == {"symbol": "BTC/USDT", "min_order_size": "0.01", "max_order_size": "10", "max_price_deviation": "0.05"}
    assert operator_api.get("/api/v1/admin/limits/symbol/BTC%2FUSDT").json() == response.json()
    assert operator_api.get("/api/v1/admin/limits/symbol/NOPE-USDT").json()["error"]["code"] == "UNKNOWN_SYMBOL"


def test_the_limits_bodies_show_every_limit_the_services_set(symbol, alice, operator_api):
    user_body = operator_api.get(f"/api/v1/admin/limits/user/{alice.id}").json()
    symbol_body = operator_api.get("/api/v1/admin/limits/symbol/BTC-USDT").json()

    assert list(user_body) == ["user_id", *services.USER_LIMIT_FIELDS]
    assert list(symbol_body) == ["symbol", *services.SYMBOL_LIMIT_FIELDS]


def test_halt_then_order_is_symbol_halted_then_resume(symbol, alice_api, operator_api):
    body = {"symbol": "BTC-USDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "100.00"}
    halted = operator_api.post("/api/v1/admin/trading/halt/BTC-USDT", {"reason": "maintenance"}, format="json")
    assert halted.json() == {"symbol": "BTC/USDT", "status": "HALTED", "halt_reason": "maintenance"}

    refused = alice_api.post("/api/v1/orders", body, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "SYMBOL_HALTED")
    assert alice_api.get("/api/v1/symbols").json()[0]["status"] == "HALTED"

    resumed = operator_api.post("/api/v1/admin/trading/resume/BTC-USDT", {}, format="json")
    assert resumed.json()["status"] == "TRADING"
    assert alice_api.post("/api/v1/orders", body, format="json").status_code in (201, 202)


def test_halt_needs_a_reason(symbol, operator_api):
    response = operator_api.post("/api/v1/admin/trading/halt/BTC-USDT", {}, format="json")
    assert response.status_code == 400
    assert Symbol.objects.get(id=symbol.id).status == "TRADING"


def test_cancel_all_answers_cancelled_and_total(symbol, alice, operator_api):
    place(alice, symbol, "BUY", "1", "100.00")
    place(alice, symbol, "BUY", "1", "101.00")
    response = operator_api.post(f"/api/v1/admin/orders/cancel-all/{alice.id}", {"reason": "risk"}, format="json")
    assert response.json() == {"cancelled": 2, "total": 2}
    assert EngineCommand.objects.filter(kind="CANCEL").count() == 2
    entry = AuditLog.objects.get(action="orders.cancel_all")
    assert entry.ip == "127.0.0.1"


def test_audit_filters_by_action_prefix_and_actor(symbol, alice, operator, operator_api):
    operator_api.post("/api/v1/admin/trading/halt/BTC-USDT", {"reason": "a"}, format="json")
    operator_api.post("/api/v1/admin/trading/resume/BTC-USDT", {}, format="json")
    operator_api.post(f"/api/v1/admin/limits/user/{alice.id}", {"max_open_orders": 1}, format="json")

    trading = operator_api.get("/api/v1/admin/audit?action=trading").json()
    assert [e["action"] for e in trading] == ["trading.resume", "trading.halt"]
    assert operator_api.get("/api/v1/admin/audit?action=trading.halt").json()[0]["payload"]["reason"] == "a"
    assert len(operator_api.get("/api/v1/admin/audit?actor=operator&limit=2").json()) == 2
    assert len(operator_api.get(f"/api/v1/admin/audit?actor={operator.id}").json()) == 3
    assert operator_api.get("/api/v1/admin/audit?actor=nobody").json() == []


def test_orderbook_stats_show_the_resting_book(symbol, alice, bob, operator_api):
    from tests.support.matcher import process

    place(alice, symbol, "BUY", "1", "100.00")
    place(bob, symbol, "SELL", "1", "105.00")
    place(bob, symbol, "SELL", "1", None, type="STOP_MARKET", stop_price="90.00")
    process(symbol)
    [row] = operator_api.get("/api/v1/admin/orderbook/stats").json()
    assert (row["symbol"], row["resting_bids"], row["resting_asks"], row["untriggered_stops"]) == ("BTC/USDT", 1, 1, 1)
    assert (row["best_bid"], row["best_ask"], row["unprocessed_commands"]) == ("100", "105", 0)
    assert row["heartbeat_age_seconds"] is not None


def test_stats_metrics_and_performance_answer(symbol, alice, operator_api):
    place(alice, symbol, "BUY", "1", "100.00")
    stats = operator_api.get("/api/v1/admin/stats").json()
    assert stats["orders"]["placed"] == 1 and stats["open_orders"] == 1
    metrics = operator_api.get("/api/v1/admin/metrics").json()
    assert set(metrics) >= {"web_process", "matcher", "engine_commands", "settlement"}
    performance = operator_api.get("/api/v1/admin/performance").json()
    assert performance["unprocessed_commands"] == 1
    assert performance["database_latency_ms"] is not None


def test_admin_endpoints_are_in_the_openapi_schema(db, operator_api):
    from django.test import Client

    schema = Client().get("/api/schema/?format=json").json()
    for path in [
        "/api/v1/admin/health/detailed", "/api/v1/admin/metrics", "/api/v1/admin/stats", "/api/v1/admin/performance",
        "/api/v1/admin/limits/user/{user_id}", "/api/v1/admin/limits/symbol/{symbol}", "/api/v1/admin/trading/halt/{symbol}",
        "/api/v1/admin/trading/resume/{symbol}", "/api/v1/admin/orders/cancel-all/{user_id}", "/api/v1/admin/orderbook/stats",
        "/api/v1/admin/audit",
    ]:
        assert path in schema["paths"], path
    assert "totp_code" in schema["components"]["schemas"]["PlaceOrderRequest"]["properties"]
