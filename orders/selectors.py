"""Reads of orders and fills, shaped for the API."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from .models import Fill, Order


def _with_fills(queryset: QuerySet[Order]) -> QuerySet[Order]:
    fills = Fill.objects.select_related("symbol", "trade").order_by("id")
    return queryset.select_related("symbol").prefetch_related(Prefetch("fills", queryset=fills))


def order_for_user(*, user, order_id: int) -> Order | None:
    return _with_fills(Order.objects.filter(id=order_id, user=user)).first()


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
    queryset = Fill.objects.filter(user=user).select_related("symbol", "trade")
    if symbol_id is not None:
        queryset = queryset.filter(symbol_id=symbol_id)
    return queryset
