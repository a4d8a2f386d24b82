"""Reads of balances and of how settlement fares."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone

from core.redis import get_redis
from orders.models import Trade

from .models import Balance


def balances_for(*, user_id: int) -> QuerySet[Balance]:
    return Balance.objects.filter(user_id=user_id).order_by("asset")


def settlement_queue_stats(*, window_seconds: int = 3600) -> dict:
    """What GET /api/v1/admin/settlement/queue shows: backlog and how settlement fares."""
    Settlement = Trade.Settlement
    since = timezone.now() - timedelta(seconds=window_seconds)
    counts = Trade.objects.aggregate(
        pending=Count("id", filter=Q(settlement_status=Settlement.PENDING)),
        failed=Count("id", filter=Q(settlement_status=Settlement.FAILED)),
    )
    recent = Trade.objects.filter(executed_at__gte=since)
    recent_counts = recent.aggregate(
        settled=Count("id", filter=Q(settlement_status=Settlement.SETTLED)),
        failed=Count("id", filter=Q(settlement_status=Settlement.FAILED)),
    )
    latency = recent.filter(settlement_status=Settlement.SETTLED).aggregate(
        avg=Avg(ExpressionWrapper(F("settled_at") - F("executed_at"), output_field=DurationField()))
    )["avg"]
    finished = recent_counts["settled"] + recent_counts["failed"]
    try:
        queue_size = get_redis().llen(settings.CELERY_TASK_DEFAULT_QUEUE)
    except Exception:  # the broker being down is itself worth showing, not an error
        queue_size = None
    return {
        "queue_size": queue_size,
        "pending": counts["pending"],
        "failed": counts["failed"],
        "average_settlement_ms": None if latency is None else round(latency.total_seconds() * 1000, 3),
        "success_rate": None if not finished else round(recent_counts["settled"] / finished, 6),
        "window_seconds": window_seconds,
    }
