"""SQL injection and script injection: clean 4xx, JSON only, no data leak, tables intact."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model

from orders.models import Fill, Order
from riskadmin.models import Symbol
from settlement.models import Balance
from tests.factories import place

SQL = [
    "' OR '1'='1",
    "BTC/USDT' OR 1=1 --",
    "BTC/USDT'; DROP TABLE orders_order; --",
    "1 OR 1=1",
    "1; DELETE FROM settlement_balance",
    "' UNION SELECT id, username, password FROM auth_user --",
    "\" OR \"\"=\"",
    "%' OR name LIKE '%",
    "BTC/USDT\\'",
    "1' AND pg_sleep(5) IS NULL --",
    "\x00",
    "BTC\x00USDT",
]
XSS = "<script>alert(1)</script>"


@pytest.fixture
def victim(symbol, alice, bob):
    """bob's order, which no injection through alice's requests may reveal."""
    place(alice, symbol, "BUY", "1", "100", client_order_id="alice-own")
    order = place(bob, symbol, "SELL", "2", "300", client_order_id="bob-secret-order")
    return order


def table_counts():
    return (
        get_user_model().objects.count(), Order.objects.count(), Fill.objects.count(),
        Symbol.objects.count(), Balance.objects.count(),
    )


def assert_clean(response, *allowed):
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if allowed:
        assert response.status_code in allowed, (response.status_code, response.content[:300])
    text = response.content.decode(errors="replace")
    for secret in ("bob-secret-order", "pbkdf2", "md5$", "Traceback", "psycopg", "syntax error"):
        assert secret not in text


@pytest.mark.parametrize("payload", SQL, ids=range(len(SQL)))
def test_sql_in_the_order_body_symbol_is_refused(victim, alice_api, payload):
    before = table_counts()
    body = {"symbol": payload, "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "100"}
    assert_clean(alice_api.post("/api/v1/orders", body, format="json"))
    assert table_counts() == before


@pytest.mark.parametrize("payload", SQL, ids=range(len(SQL)))
def test_sql_in_other_body_fields_is_refused(victim, alice_api, payload):
    before = table_counts()
    for field in ("side", "type", "time_in_force", "quantity", "price", "client_order_id", "self_trade_prevention"):
        body = {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "100", field: payload}
        assert_clean(alice_api.post("/api/v1/orders", body, format="json"), 400)
    assert table_counts() == before


@pytest.mark.parametrize("payload", SQL, ids=range(len(SQL)))
def test_sql_in_symbol_paths_is_404(victim, anon_api, payload):
    for endpoint in ("orderbook", "trades", "ticker", "candles"):
        assert_clean(anon_api.get(f"/api/v1/{endpoint}/{quote(payload, safe='')}"))


@pytest.mark.parametrize("payload", SQL, ids=range(len(SQL)))
def test_sql_in_query_parameters_is_clean(victim, alice_api, payload):
    before = table_counts()
    q = quote(payload, safe="")
    for path in (f"/api/v1/orders?symbol={q}", f"/api/v1/fills?symbol={q}"):
        assert_clean(alice_api.get(path))
    # A cursor that does not decode is 404 "Invalid cursor" or read as the first page of one's own list.
    for path in (f"/api/v1/orders?status={q}", f"/api/v1/orders?limit={q}", f"/api/v1/fills?limit={q}",
                 f"/api/v1/orders?cursor={q}", f"/api/v1/fills?cursor={q}"):
        response = alice_api.get(path)
        assert response.status_code < 500, (path, response.status_code, response.content[:300])
        assert "bob-secret-order" not in response.content.decode()
        if response.status_code == 200 and "status=" in path:
            assert response.json()["results"] == []  # no status matches the text: nothing injected
    for path in (f"/api/v1/orderbook/BTC-USDT?depth={q}", f"/api/v1/trades/BTC-USDT?limit={q}",
                 f"/api/v1/candles/BTC-USDT?interval={q}", f"/api/v1/candles/BTC-USDT?start={q}",
                 f"/api/v1/candles/BTC-USDT?end={q}", f"/api/v1/candles/BTC-USDT?limit={q}"):
        response = alice_api.get(path)
        assert response.status_code < 500, (path, response.status_code, response.content[:300])
    assert table_counts() == before


@pytest.mark.parametrize("payload", SQL, ids=range(len(SQL)))
def test_sql_in_the_order_id_path_is_404(victim, alice_api, payload):
    before = table_counts()
    path = f"/api/v1/orders/{quote(payload, safe='')}"
    assert_clean(alice_api.get(path), 404)
    assert_clean(alice_api.delete(path), 404)
    victim.refresh_from_db()
    assert victim.status != "CANCELLED"
    assert table_counts() == before


def test_huge_and_negative_order_ids_are_404(victim, alice_api):
    for order_id in ("0", "-1", "9223372036854775807", "9223372036854775808", "99999999999999999999999999"):
        assert_clean(alice_api.get(f"/api/v1/orders/{order_id}"), 404)
        assert_clean(alice_api.delete(f"/api/v1/orders/{order_id}"), 404)


def test_the_tables_are_intact_after_injection_attempts(victim, alice, alice_api):
    before = table_counts()
    for payload in SQL:
        q = quote(payload, safe="")
        alice_api.get(f"/api/v1/orders?symbol={q}&status={q}&limit={q}")
        alice_api.post("/api/v1/orders", {"symbol": payload, "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "1"}, format="json")
    assert table_counts() == before
    own = alice_api.get("/api/v1/orders").json()["results"]
    assert [o["client_order_id"] for o in own] == ["alice-own"]


# -- script injection ----------------------------------------------------------------


def test_script_in_client_order_id_is_refused_as_json(symbol, alice_api):
    body = {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "100", "client_order_id": XSS}
    response = alice_api.post("/api/v1/orders", body, format="json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "client_order_id" in response.json()["error"]["details"]
    assert not Order.objects.exists()


@pytest.mark.parametrize("path", ["orderbook", "trades", "ticker", "candles"])
def test_script_in_a_symbol_path_comes_back_as_json_never_html(symbol, anon_api, path):
    response = anon_api.get(f"/api/v1/{path}/{quote(XSS, safe='')}")
    assert 400 <= response.status_code < 500
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.json()["error"]["code"] == "UNKNOWN_SYMBOL"


def test_script_in_the_body_symbol_comes_back_as_json(symbol, alice_api):
    body = {"symbol": XSS, "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "100"}
    response = alice_api.post("/api/v1/orders", body, format="json")
    assert 400 <= response.status_code < 500
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] in ("UNKNOWN_SYMBOL", "VALIDATION_ERROR")
