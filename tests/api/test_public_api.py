"""Endpoints that need no token: symbols, the OpenAPI schema, probes."""

from __future__ import annotations

from rest_framework.test import APIClient


def test_symbols_are_listed_without_a_token(symbol):
    response = APIClient().get("/api/v1/symbols")

    assert response.status_code == 200
    assert response.json() == [
        {
            "symbol": "BTC/USDT",
            "base_asset": "BTC",
            "quote_asset": "USDT",
            "tick_size": "0.01",
            "step_size": "0.001",
            "min_quantity": "0.001",
            "min_notional": "1",
            "status": "TRADING",
            "maker_fee": "0.001",
            "taker_fee": "0.002",
        }
    ]


def test_symbols_show_a_halted_symbol_as_halted(symbol):
    symbol.status = symbol.Status.HALTED
    symbol.save()

    assert APIClient().get("/api/v1/symbols").json()[0]["status"] == "HALTED"


def test_symbols_ignore_a_bad_token(symbol):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer garbage")

    assert client.get("/api/v1/symbols").status_code == 200


def test_schema_describes_the_order_endpoints(db):
    response = APIClient().get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = ["/api/v1/orders", "/api/v1/orders/{order_id}", "/api/v1/fills", "/api/v1/balances", "/api/v1/auth/token"]
    assert set(paths) <= set(schema["paths"])


def test_schema_describes_the_contract_fields_of_orders_and_fills(db):
    components = APIClient().get("/api/schema/", {"format": "json"}).json()["components"]["schemas"]

    order_fields = {
        "id", "client_order_id", "symbol", "side", "type", "time_in_force", "post_only", "price",
        "stop_price", "quantity", "filled_quantity", "remaining_quantity", "average_price", "status",
        "reject_reason", "cancel_reason", "created_at", "updated_at", "fills",
    }
    assert order_fields <= set(components["Order"]["properties"])
    assert {"trade", "price", "quantity", "fee", "fee_asset", "liquidity"} <= set(components["Fill"]["properties"])


def test_schema_is_served_as_yaml_by_default(db):
    response = APIClient().get("/api/schema/")

    assert response.status_code == 200
    assert b"/api/v1/orders:" in response.content


def test_swagger_ui_is_served(db):
    assert APIClient().get("/api/docs/").status_code == 200


def test_healthz_answers_200(db):
    response = APIClient().get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_answers_200_when_database_and_redis_answer(db):
    response = APIClient().get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}
