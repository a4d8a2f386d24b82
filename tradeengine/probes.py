"""Liveness and readiness probes for process supervisors and load balancers."""

from django.db import connection
from django.http import JsonResponse

from core.redis import get_redis


def healthz(request):
    """Alive: the process answers. No dependency is checked."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """Ready: the database and Redis answer; 503 otherwise."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready", with the reason shown
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {exc.__class__.__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503)
