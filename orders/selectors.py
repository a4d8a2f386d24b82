"""Reads of orders, fills and trading figures, shaped for the API."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Prefetch, Q, QuerySet, Sum, prefetch_related_objects
from django.utils import timezone

from riskadmin.models import Symbol

from . import errors
from .models import Fill, Order, Trade


def _fills() -> Prefetch:
    return Prefetch("fills", queryset=Fill.objects.select_related("symbol").order_by("id"))


def _with_fills(queryset: QuerySet[Order]) -> QuerySet[Order]:
    return queryset.select_related("symbol").prefetch_related(_fills())


def own_order(*, user, order_id: int) -> Order:
    """The user's order with its fills; another user's order is "not found",
    never "forbidden"."""
    order = Order.objects.select_related("symbol").filter(id=order_id, user=user).first()
    if order is None:
        raise errors.OrderNotFound(order_id=order_id)
    if order.filled_quantity:
        # An order that has not traded has no fills: most answers to a new
        # order are one query, not two.
        prefetch_related_objects([order], _fills())
    return order


def own_order_id(*, user, client_order_id: str) -> int:
    """The id of the user's order with this client_order_id, or OrderNotFound."""
    order_id = Order.objects.filter(user=user, client_order_id=client_order_id).values_list("id", flat=True).first()
    if not client_order_id or order_id is None:
        raise errors.OrderNotFound(client_order_id=client_order_id)
    return order_id


def own_order_by_client_id(*, user, client_order_id: str) -> Order:
    return own_order(user=user, order_id=own_order_id(user=user, client_order_id=client_order_id))


def orders_for_user(*, user, symbol_id: int | None = None, status: str | None = None) -> QuerySet[Order]:
    queryset = Order.objects.filter(user=user)
    if symbol_id is not None:
        queryset = queryset.filter(symbol_id=symbol_id)
    if status:
        # An unknown status matches nothing (and a NUL byte must not reach PostgreSQL).
        known = {value for value, _ in Order.STATUSES}
        queryset = queryset.filter(status=status) if status in known else queryset.none()
    return _with_fills(queryset)


def fills_for_user(*, user, symbol_id: int | None = None) -> QuerySet[Fill]:
    queryset = Fill.objects.filter(user=user).select_related("symbol")
    if symbol_id is not None:
        queryset = queryset.filter(symbol_id=symbol_id)
    return queryset


def trading_stats(*, window_seconds: int = 86400) -> dict:
    """Counts over the last window (24 h by default) and in total."""
    since = timezone.now() - timedelta(seconds=window_seconds)
    orders = Order.objects.filter(created_at__gte=since).aggregate(
        placed=Count("id"),
        filled=Count("id", filter=Q(status="FILLED")),
        cancelled=Count("id", filter=Q(status="CANCELLED")),
        rejected=Count("id", filter=Q(status="REJECTED")),
    )
    per_symbol = [
        {"symbol": row["symbol__name"], "trades": row["trades"], "volume": row["volume"], "quote_volume": row["quote_volume"]}
        for row in Trade.objects.filter(executed_at__gte=since)
        .values("symbol__name")
        .annotate(trades=Count("id"), volume=Sum("quantity"), quote_volume=Sum("quote_quantity"))
        .order_by("symbol__name")
    ]
    return {
        "window_seconds": window_seconds,
        "users": get_user_model().objects.count(),
        "active_traders": Order.objects.filter(created_at__gte=since).values("user_id").distinct().count(),
        "open_orders": Order.objects.filter(status__in=Order.LIVE_STATUSES).count(),
        "orders": orders,
        "trades": sum(row["trades"] for row in per_symbol),
        "symbols": per_symbol,
        "halted_symbols": list(Symbol.objects.filter(status=Symbol.Status.HALTED).values_list("name", flat=True)),
    }
