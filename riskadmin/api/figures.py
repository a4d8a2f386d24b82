"""Operator figures assembled from metrics, the database and Redis, for the
admin API's /metrics and /performance (JSON, for people and scripts)."""

from __future__ import annotations

from django.utils import timezone

from core import metrics
from matching.models import EngineCommand
from settlement.selectors import settlement_queue_stats

from . import health


def _histogram_summary(name: str, scale: float = 1.0) -> dict:
    try:
        data = metrics.read_histogram(name)
    except Exception as exc:  # Redis down: say so instead of failing the page
        return {"error": f"{exc.__class__.__name__}: {exc}"}
    if not data:
        return {"count": 0}

    def q(value):
        estimate = metrics.quantile(data, value)
        return None if estimate is None else round(estimate * scale, 3)

    return {
        "count": data["count"],
        "average": round(data["sum"] / data["count"] * scale, 3) if data["count"] else None,
        "p50": q(0.5), "p95": q(0.95), "p99": q(0.99),
    }


def _backlog() -> dict:
    oldest = EngineCommand.objects.filter(processed_at__isnull=True).order_by("id").values_list("created_at", flat=True).first()
    return {
        "unprocessed_commands": EngineCommand.objects.filter(processed_at__isnull=True).count(),
        "oldest_unprocessed_age_seconds": None if oldest is None else round((timezone.now() - oldest).total_seconds(), 3),
    }


def metrics_summary() -> dict:
    return {
        "web_process": metrics.snapshot(),
        "matcher": {
            "batch_size": _histogram_summary("tradeengine_matcher_batch_size"),
            "batch_ms": _histogram_summary("tradeengine_matcher_batch_seconds", scale=1000),
        },
        "engine_commands": _backlog(),
        "settlement": settlement_queue_stats(),
    }


def performance() -> dict:
    settlement = settlement_queue_stats()
    database, redis = health.check_database, health.check_redis
    return {
        "matcher_batch_ms": _histogram_summary("tradeengine_matcher_batch_seconds", scale=1000),
        "matcher_batch_size": _histogram_summary("tradeengine_matcher_batch_size"),
        "settlement_average_ms": settlement["average_settlement_ms"],
        "settlement_success_rate": settlement["success_rate"],
        "database_latency_ms": health.timed(database)["latency_ms"],
        "redis_latency_ms": health.timed(redis)["latency_ms"],
        **_backlog(),
    }
