"""The OpenAPI schema documents each response body with the serializer that
renders it: one named component per body, one error body for every failure."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from riskadmin.api import health

BODIES = [
    ("/api/v1/account", "get", "200", "Account"),
    ("/api/v1/balances", "get", "200", "Balance"),
    ("/api/v1/orders", "delete", "200", "CancelledOrders"),
    ("/api/v1/orders/by-client-id/{client_order_id}", "get", "200", "Order"),
    ("/api/v1/orders/by-client-id/{client_order_id}", "delete", "200", "Order"),
    ("/api/v1/orders/by-client-id/{client_order_id}", "patch", "200", "Order"),
    ("/api/v1/orders/{order_id}", "patch", "200", "Order"),
    ("/api/v1/orders/batch", "post", "201", "BatchResult"),
    ("/api/v1/orders/batch", "post", "200", "BatchResult"),
    ("/api/v1/symbols", "get", "200", "Symbol"),
    ("/api/v1/orderbook/{symbol}", "get", "200", "OrderBook"),
    ("/api/v1/trades/{symbol}", "get", "200", "PublicTrade"),
    ("/api/v1/ticker/{symbol}", "get", "200", "Ticker"),
    ("/api/v1/candles/{symbol}", "get", "200", "Candle"),
    ("/api/v1/admin/deposits", "post", "201", "DepositResult"),
    ("/api/v1/admin/settlement/queue", "get", "200", "SettlementQueue"),
    ("/api/v1/admin/websocket/connections", "get", "200", "WebSocketConnections"),
    ("/api/v1/admin/limits/user/{user_id}", "get", "200", "UserLimitsBody"),
    ("/api/v1/admin/limits/user/{user_id}", "post", "200", "UserLimitsBody"),
    ("/api/v1/admin/limits/symbol/{symbol}", "get", "200", "SymbolLimitsBody"),
    ("/api/v1/admin/limits/symbol/{symbol}", "post", "200", "SymbolLimitsBody"),
    ("/api/v1/admin/trading/halt/{symbol}", "post", "200", "SymbolStatus"),
    ("/api/v1/admin/trading/resume/{symbol}", "post", "200", "SymbolStatus"),
    ("/api/v1/admin/orders/cancel-all/{user_id}", "post", "200", "CancelAllResult"),
    ("/api/v1/admin/orderbook/stats", "get", "200", "OrderbookStats"),
    ("/api/v1/admin/stats", "get", "200", "TradingStats"),
    ("/api/v1/admin/health/detailed", "get", "200", "DetailedHealth"),
    ("/api/v1/admin/metrics", "get", "200", "MetricsSummary"),
    ("/api/v1/admin/performance", "get", "200", "Performance"),
]


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _component(body_schema: dict) -> str | None:
    """The component a JSON body refers to; a list refers through its items."""
    if body_schema.get("type") == "array":
        body_schema = body_schema["items"]
    ref = body_schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] or None


def _bodies(schema: dict):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                body = response.get("content", {}).get("application/json", {}).get("schema")
                if body is not None:
                    yield path, method, status, body


@pytest.mark.parametrize(("path", "method", "status", "component"), BODIES, ids=[f"{m} {p}" for p, m, _, _ in BODIES])
def test_the_body_is_the_named_output_serializer(schema, path, method, status, component):
    body = schema["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]

    assert _component(body) == component
    assert component in schema["components"]["schemas"]


def test_no_answer_is_an_undocumented_free_form_object(schema):
    unnamed = [(path, method, status) for path, method, status, body in _bodies(schema) if _component(body) is None]

    assert unnamed == []


def test_every_error_answer_is_the_one_error_body(schema):
    errors = {(path, method, status): _component(body) for path, method, status, body in _bodies(schema) if int(status) >= 400}

    assert errors
    assert set(errors.values()) == {"ErrorBody"}
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == set(error["required"]) == {"code", "message", "details"}


def test_the_order_book_documents_both_sides(schema):
    assert {"symbol", "sequence", "bids", "asks"} <= set(schema["components"]["schemas"]["OrderBook"]["required"])


def test_detailed_health_documents_every_component_checked(schema):
    components = schema["components"]["schemas"]["HealthComponents"]["properties"]

    assert set(components) == set(health.CHECKS)
