"""Every operator endpoint: a trader gets 403 FORBIDDEN, no token gets 401, nothing changes."""

from __future__ import annotations

import pytest
from django.urls import get_resolver

from orders.models import Order
from riskadmin.models import AuditLog, SymbolLimit, UserLimit
from settlement.models import Balance
from tests.factories import place

from .conftest import assert_error_body

ADMIN_CALLS = [
    ("get", "/api/v1/admin/health/detailed", None),
    ("get", "/api/v1/admin/metrics", None),
    ("get", "/api/v1/admin/stats", None),
    ("get", "/api/v1/admin/performance", None),
    ("get", "/api/v1/admin/limits/user/{alice}", None),
    ("post", "/api/v1/admin/limits/user/{alice}", {"max_order_size": "0.001", "max_open_orders": 1}),
    ("get", "/api/v1/admin/limits/symbol/BTC-USDT", None),
    ("post", "/api/v1/admin/limits/symbol/BTC-USDT", {"max_order_size": "0.001"}),
    ("post", "/api/v1/admin/trading/halt/BTC-USDT", {"reason": "pwned"}),
    ("post", "/api/v1/admin/trading/resume/BTC-USDT", {}),
    ("post", "/api/v1/admin/orders/cancel-all/{alice}", {}),
    ("post", "/api/v1/admin/deposits", {"user_id": "{alice}", "asset": "USDT", "amount": "1000000"}),
    ("get", "/api/v1/admin/orderbook/stats", None),
    ("get", "/api/v1/admin/settlement/queue", None),
    ("get", "/api/v1/admin/websocket/connections", None),
    ("get", "/api/v1/admin/audit", None),
]


def admin_route_count() -> int:
    """Routes under api/v1/admin/ in the URL map (so a new one is not forgotten here)."""
    def walk(patterns, prefix=""):
        for p in patterns:
            route = prefix + str(p.pattern)
            if hasattr(p, "url_patterns"):
                yield from walk(p.url_patterns, route)
            else:
                yield route
    return len({r for r in walk(get_resolver().url_patterns) if r.startswith("api/v1/admin/")})


def test_the_list_covers_every_admin_route():
    assert len({path for _, path, _ in ADMIN_CALLS}) == admin_route_count()


def fill(template, alice):
    if isinstance(template, dict):
        return {k: (alice.id if v == "{alice}" else v) for k, v in template.items()}
    return template.replace("{alice}", str(alice.id))


def snapshot(symbol, alice):
    symbol.refresh_from_db()
    return (
        symbol.status,
        sorted(Order.objects.filter(user=alice).values_list("id", "status")),
        sorted((b.asset, b.available, b.locked) for b in Balance.objects.filter(user=alice)),
        UserLimit.objects.count(), SymbolLimit.objects.count(), AuditLog.objects.count(),
    )


@pytest.mark.parametrize("method,path,body", ADMIN_CALLS, ids=[f"{m} {p}" for m, p, _ in ADMIN_CALLS])
def test_a_trader_is_403_and_nothing_changes(symbol, alice, bob_api, method, path, body):
    place(alice, symbol, "BUY", "1", "100")
    before = snapshot(symbol, alice)
    response = getattr(bob_api, method)(fill(path, alice), fill(body, alice), format="json") if body is not None \
        else getattr(bob_api, method)(fill(path, alice))
    assert_error_body(response, 403, "FORBIDDEN")
    assert snapshot(symbol, alice) == before


@pytest.mark.parametrize("method,path,body", ADMIN_CALLS, ids=[f"{m} {p}" for m, p, _ in ADMIN_CALLS])
def test_no_token_is_401(symbol, alice, anon_api, method, path, body):
    before = snapshot(symbol, alice)
    response = getattr(anon_api, method)(fill(path, alice), fill(body, alice), format="json") if body is not None \
        else getattr(anon_api, method)(fill(path, alice))
    assert_error_body(response, 401, "NOT_AUTHENTICATED")
    assert snapshot(symbol, alice) == before


def test_an_operator_is_let_in(symbol, alice, operator_api):
    for method, path, body in ADMIN_CALLS:
        if method == "get":
            assert operator_api.get(fill(path, alice)).status_code == 200, path


def test_a_trader_cannot_make_themself_staff_through_the_api(alice, alice_api):
    alice_api.post("/api/v1/account", {"is_staff": True}, format="json")
    alice_api.patch("/api/v1/account", {"is_staff": True}, format="json")
    alice.refresh_from_db()
    assert not alice.is_staff and not alice.is_superuser
    assert alice_api.get("/api/v1/admin/stats").status_code == 403
