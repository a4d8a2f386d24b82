"""GET /api/v1/admin/health/detailed and riskadmin.api.health."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from matching.models import MatcherState
from orders.models import Trade
from riskadmin.api import health
from tests.factories import make_symbol


def _beat(symbol, seconds_ago: float) -> None:
    MatcherState.objects.update_or_create(symbol=symbol, defaults={"heartbeat_at": timezone.now() - timedelta(seconds=seconds_ago)})


def test_fresh_heartbeats_are_healthy_with_every_component_reported(symbol, operator_api):
    _beat(symbol, 1)
    body = operator_api.get("/api/v1/admin/health/detailed").json()
    assert set(body) == {"status", "version", "uptime_seconds", "timestamp", "components"}
    assert set(body["components"]) == {"database", "matching_engine", "wallet_service", "websocket", "settlement", "redis"}
    for component in body["components"].values():
        assert set(component) == {"status", "message", "latency_ms", "details"}
    assert body["components"]["database"]["status"] == "healthy"
    assert body["components"]["redis"]["status"] == "healthy"
    assert body["components"]["matching_engine"]["status"] == "healthy"
    assert body["status"] in ("healthy", "degraded")  # optional services depend on the deployment


def test_a_stale_heartbeat_is_degraded(settings, symbol):
    settings.MATCHER_HEARTBEAT_STALE_SECONDS = 30
    other = make_symbol("ETH/USDT")
    _beat(symbol, 1)
    _beat(other, 120)
    component = health.check_matching_engine()
    assert component["status"] == "degraded"
    assert component["details"]["stale_symbols"] == ["ETH/USDT"]
    report = health.detailed_health()
    assert report["status"] in ("degraded",)


def test_no_matcher_at_all_is_unhealthy(settings, symbol, operator_api):
    _beat(symbol, 3600)
    body = operator_api.get("/api/v1/admin/health/detailed").json()
    assert body["components"]["matching_engine"]["status"] == "unhealthy"
    assert body["status"] == "unhealthy"


def test_failed_settlements_make_settlement_degraded(symbol, alice, bob):
    from tests.factories import place
    from tests.support.matcher import process

    place(alice, symbol, "BUY", "1", "100.00")
    place(bob, symbol, "SELL", "1", "100.00")
    process(symbol)
    Trade.objects.update(settlement_status=Trade.Settlement.FAILED)
    component = health.check_settlement()
    assert component["status"] == "degraded"
    assert component["details"]["failed"] == 1


def test_a_failing_check_is_reported_not_raised(monkeypatch, db):
    def broken():
        raise ConnectionError("refused")

    monkeypatch.setitem(health.CHECKS, "redis", broken)
    report = health.detailed_health()
    assert report["components"]["redis"]["status"] == "unhealthy"
    assert "refused" in report["components"]["redis"]["message"]
    assert report["status"] in ("degraded", "unhealthy")


def test_no_wallet_service_configured_is_healthy_and_says_so(settings, db):
    settings.WALLET_SERVICE_URL = ""
    component = health.check_wallet_service()
    assert (component["status"], component["message"]) == ("healthy", "no wallet service configured")
    assert component["details"]["enabled"] is False


def test_wallet_status_report_is_used(monkeypatch, db):
    monkeypatch.setattr(health, "wallet_status", lambda: {"status": "degraded", "message": "breaker open"})
    component = health.check_wallet_service()
    assert (component["status"], component["message"]) == ("degraded", "breaker open")


def test_overall_ignores_unknown_and_is_led_by_critical_components():
    ok = {"status": "healthy"}
    assert health.overall({"database": ok, "matching_engine": ok, "wallet_service": {"status": "unknown"}}) == "healthy"
    assert health.overall({"database": ok, "matching_engine": ok, "redis": {"status": "unhealthy"}}) == "degraded"
    assert health.overall({"database": {"status": "unhealthy"}, "matching_engine": ok}) == "unhealthy"
