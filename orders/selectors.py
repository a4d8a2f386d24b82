"""Reads of orders and fills, shaped for the API."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet, prefetch_related_objects

from .models import Fill, Order


def _fills() -> Prefetch:
    return Prefetch("fills", queryset=Fill.objects.select_related("symbol", "trade").order_by("id"))


def _with_fills(queryset: QuerySet[Order]) -> QuerySet[Order]:
    return queryset.select_related("symbol").prefetch_related(_fills())


def order_for_user(*, user, order_id: int) -> Order | None:
    order = Order.objects.select_related("symbol").filter(id=order_id, user=user).first()
    if order is not None and order.filled_quantity:
        # An order that has not traded has no fills: most answers to a new
        # order are one query, not two.
        prefetch_related_objects([order], _fills())
    return order


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
