"""Prometheus metrics at /metrics, including figures from other processes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from core import metrics
from core.redis import get_redis
from tests.factories import place
from tests.support.matcher import process


@pytest.fixture
def clean_histograms(db):
    for name in metrics.HISTOGRAMS:
        get_redis().delete(metrics._key(name))
    yield
    for name in metrics.HISTOGRAMS:
        get_redis().delete(metrics._key(name))


def _scrape() -> str:
    return Client().get("/metrics").content.decode()


def test_metrics_text_has_every_trade_engine_metric(symbol, alice, bob, clean_histograms):
    place(alice, symbol, "BUY", "1", "100.00")
    place(bob, symbol, "SELL", "1", "100.00")
    process(symbol)
    metrics.observe_matcher_batch(2, 0.004)
    text = _scrape()
    for name in (
        "tradeengine_orders_total", "tradeengine_rejections_total", "tradeengine_matcher_batch_size_bucket",
        "tradeengine_matcher_batch_seconds_bucket", "tradeengine_trades_total", "tradeengine_settlement_pending",
        "tradeengine_settlement_failed", "tradeengine_settlement_latency_seconds", "tradeengine_engine_commands_unprocessed",
        "tradeengine_matcher_heartbeat_age_seconds", "tradeengine_symbol_halted",
    ):
        assert name in text, name
    assert 'tradeengine_trades_total{symbol="BTC/USDT"} 1.0' in text


def test_matcher_batches_become_a_histogram_read_from_redis(db, clean_histograms):
    metrics.observe_matcher_batch(3, 0.002)
    metrics.observe_matcher_batch(40, 0.03)
    data = metrics.read_histogram("tradeengine_matcher_batch_size")
    assert data["count"] == 2 and data["sum"] == 43
    assert dict(data["buckets"])[5] == 1 and dict(data["buckets"])[50] == 2
    assert 'tradeengine_matcher_batch_seconds_count 2.0' in _scrape()


def test_recording_a_batch_never_raises_when_redis_is_down(monkeypatch, db):
    from core import redis as redis_module

    def down():
        raise ConnectionError("down")

    monkeypatch.setattr(redis_module, "get_redis", down)
    metrics.observe_matcher_batch(1, 0.001)


def _sample(name: str, **labels) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_rejected_orders_count_by_code_and_type(symbol, alice_api, settings):
    before = _sample("tradeengine_rejections_total", code="PRICE_NOT_ON_TICK")
    before_orders = _sample("tradeengine_orders_total", type="LIMIT", outcome="rejected")
    response = alice_api.post(
        "/api/v1/orders", {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "100.001"}, format="json"
    )
    assert response.json()["error"]["code"] == "PRICE_NOT_ON_TICK"
    assert _sample("tradeengine_rejections_total", code="PRICE_NOT_ON_TICK") == before + 1
    assert _sample("tradeengine_orders_total", type="LIMIT", outcome="rejected") == before_orders + 1


@pytest.mark.django_db(transaction=True)
def test_accepted_orders_count_after_commit():
    from tests.factories import make_symbol, make_user

    symbol = make_symbol("BTC/USDT")
    alice = make_user("alice-m", funds={"USDT": "1000"})
    before = _sample("tradeengine_orders_total", type="LIMIT", outcome="accepted")
    place(alice, symbol, "BUY", "1", "100.00")
    assert _sample("tradeengine_orders_total", type="LIMIT", outcome="accepted") == before + 1


def test_quantile_estimates_like_histogram_quantile():
    histogram = {"buckets": [(1, 0), (2, 10), (4, 20), (float("inf"), 20)], "count": 20, "sum": 50}
    assert metrics.quantile(histogram, 0.5) == 2
    assert metrics.quantile(histogram, 0.75) == 3
    assert metrics.quantile(None, 0.5) is None
    assert connection.vendor == "postgresql"


def test_the_matcher_records_each_committed_batch(symbol, alice, clean_histograms):
    place(alice, symbol, "BUY", "1", "100.00")
    place(alice, symbol, "BUY", "1", "101.00")
    process(symbol)
    data = metrics.read_histogram("tradeengine_matcher_batch_size")
    assert (data["count"], data["sum"]) == (1, 2)
    assert metrics.read_histogram("tradeengine_matcher_batch_seconds")["count"] == 1


@pytest.mark.django_db(transaction=True)
def test_orders_ended_by_the_matcher_count_by_type_and_final_status():
    from tests.factories import make_symbol, make_user

    symbol = make_symbol("BTC/USDT")
    alice = make_user("alice-o", funds={"USDT": "100000"})
    bob = make_user("bob-o", funds={"BTC": "10"})

    def outcome(order_type: str, status: str) -> float:
        return _sample("tradeengine_order_outcomes_total", type=order_type, status=status)

    filled, cancelled = outcome("LIMIT", "FILLED"), outcome("MARKET", "CANCELLED")
    place(bob, symbol, "SELL", "1", "100.00")
    place(alice, symbol, "BUY", "1", "100.00")
    process(symbol)
    assert outcome("LIMIT", "FILLED") == filled + 2  # maker and taker

    place(alice, symbol, "BUY", "1", None, type="MARKET")  # nothing to buy: cancelled unfilled
    process(symbol)
    assert outcome("MARKET", "CANCELLED") == cancelled + 1
