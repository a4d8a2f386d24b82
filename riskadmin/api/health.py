"""Detailed health: one check per component, each timed, none allowed to raise.

Each component reports {status, message, latency_ms, details} with status
healthy, degraded, unhealthy or unknown (not configured in this deployment).

Overall status:
- unhealthy when a critical component (database, matching_engine) is
  unhealthy: orders cannot be accepted or matched;
- degraded when any other component is degraded or unhealthy, or a critical
  one is degraded: trading works, something needs an operator;
- healthy otherwise. "unknown" components do not count.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone as dt_timezone

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.redis import get_redis
from marketdata.selectors import websocket_connection_stats
from matching.models import EngineCommand, MatcherState
from riskadmin.models import Symbol
from settlement.selectors import settlement_queue_stats
from settlement.wallet import wallet_status

HEALTHY, DEGRADED, UNHEALTHY, UNKNOWN = "healthy", "degraded", "unhealthy", "unknown"
CRITICAL = ("database", "matching_engine")


def _component(status: str, message: str, latency_ms: float | None = None, **details) -> dict:
    return {"status": status, "message": message, "latency_ms": latency_ms, "details": details}


def timed(check):
    """Run a check; its own exceptions become an unhealthy component."""
    started = time.perf_counter()
    try:
        result = check()
    except Exception as exc:  # a failing dependency is what this endpoint reports
        result = _component(UNHEALTHY, f"{exc.__class__.__name__}: {exc}"[:300])
    if result.get("latency_ms") is None:
        result["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return result


def check_database() -> dict:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    latency = round((time.perf_counter() - started) * 1000, 3)
    slow = latency > settings.HEALTH_DATABASE_SLOW_MS
    return _component(DEGRADED if slow else HEALTHY, "slow" if slow else "ok", latency, vendor=connection.vendor)


def check_redis() -> dict:
    started = time.perf_counter()
    get_redis().ping()
    latency = round((time.perf_counter() - started) * 1000, 3)
    slow = latency > settings.HEALTH_REDIS_SLOW_MS
    return _component(DEGRADED if slow else HEALTHY, "slow" if slow else "ok", latency)


def check_matching_engine() -> dict:
    """Every symbol's matcher must have reported within MATCHER_HEARTBEAT_STALE_SECONDS."""
    limit = settings.MATCHER_HEARTBEAT_STALE_SECONDS
    now = timezone.now()
    beats = dict(MatcherState.objects.values_list("symbol__name", "heartbeat_at"))
    symbols = list(Symbol.objects.values_list("name", flat=True))
    ages = {name: None if beats.get(name) is None else round((now - beats[name]).total_seconds(), 3) for name in symbols}
    stale = sorted(name for name, age in ages.items() if age is None or age > limit)
    backlog = EngineCommand.objects.filter(processed_at__isnull=True).count()
    details = {"heartbeat_age_seconds": ages, "stale_symbols": stale, "stale_after_seconds": limit, "unprocessed_commands": backlog}
    if not symbols:
        return _component(HEALTHY, "no symbols configured", **details)
    if len(stale) == len(symbols):
        return _component(UNHEALTHY, "no matcher has reported recently", **details)
    if stale:
        return _component(DEGRADED, f"stale matcher for {', '.join(stale)}", **details)
    return _component(HEALTHY, "ok", **details)


def check_settlement() -> dict:
    stats = settlement_queue_stats()
    if stats["failed"]:
        return _component(DEGRADED, f"{stats['failed']} trade(s) failed to settle", **stats)
    if stats["pending"] > settings.HEALTH_SETTLEMENT_BACKLOG:
        return _component(DEGRADED, f"settlement backlog of {stats['pending']} trades", **stats)
    if stats["queue_size"] is None:
        return _component(DEGRADED, "the Celery broker cannot be read", **stats)
    return _component(HEALTHY, "ok", **stats)


def _from_report(report) -> dict:
    """Accept a dict with a status (or a bool) from another app's status call."""
    if isinstance(report, bool):
        return _component(HEALTHY if report else UNHEALTHY, "ok" if report else "down")
    report = dict(report or {})
    status = str(report.pop("status", HEALTHY)).lower()
    if status in ("ok", "up", "closed"):
        status = HEALTHY
    if status not in (HEALTHY, DEGRADED, UNHEALTHY, UNKNOWN):
        status = DEGRADED
    message = str(report.pop("message", "ok" if status == HEALTHY else status))
    return _component(status, message, report.pop("latency_ms", None), **report)


def check_wallet_service() -> dict:
    return _from_report(wallet_status())


def check_websocket() -> dict:
    figures = websocket_connection_stats()
    return _component(HEALTHY, "ok", **(figures if isinstance(figures, dict) else {"report": figures}))


CHECKS = {
    "database": check_database,
    "redis": check_redis,
    "matching_engine": check_matching_engine,
    "settlement": check_settlement,
    "wallet_service": check_wallet_service,
    "websocket": check_websocket,
}


def overall(components: dict) -> str:
    statuses = {name: c["status"] for name, c in components.items()}
    if any(statuses.get(name) == UNHEALTHY for name in CRITICAL):
        return UNHEALTHY
    if any(s in (DEGRADED, UNHEALTHY) for s in statuses.values()):
        return DEGRADED
    return HEALTHY


def detailed_health() -> dict:
    components = {name: timed(check) for name, check in CHECKS.items()}
    return {
        "status": overall(components),
        "version": settings.APP_VERSION,
        "uptime_seconds": round(time.time() - settings.PROCESS_STARTED_AT, 3),
        "timestamp": datetime.now(dt_timezone.utc).isoformat(),
        "components": components,
    }
