"""Reads for operators: limits, the audit log, order-book and trading figures."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.utils import timezone

from .models import AuditLog, Symbol, SymbolLimit, UserLimit

AUDIT_MAX_LIMIT = 1000


def user_limit_for(*, user_id: int) -> UserLimit:
    """The user's limits; an unsaved, empty row when none were ever set."""
    return UserLimit.objects.filter(user_id=user_id).first() or UserLimit(user_id=user_id)


def symbol_limit_for(*, symbol: Symbol) -> SymbolLimit:
    return SymbolLimit.objects.filter(symbol=symbol).first() or SymbolLimit(symbol=symbol)


def audit_entries(*, action: str = "", actor: str = "", limit: int = 100) -> QuerySet[AuditLog]:
    """Newest first. action matches exactly or as a prefix ("trading." gives
    halts and resumes); actor is a username or a user id."""
    entries = AuditLog.objects.all()
    if action:
        entries = entries.filter(Q(action=action) | Q(action__startswith=action.rstrip(".") + "."))
    if actor:
        entries = entries.filter(actor_id=int(actor)) if actor.isdigit() else entries.filter(actor_name=actor)
    return entries[: max(1, min(limit, AUDIT_MAX_LIMIT))]


def _age_seconds(moment) -> float | None:
    return None if moment is None else round((timezone.now() - moment).total_seconds(), 3)


def orderbook_stats() -> list[dict]:
    """Per symbol: what rests in the book (from the database, the source of
    truth), the matcher's progress and its command backlog."""
    from matching.engine import constants as c
    from matching.models import EngineCommand, MatcherState
    from orders.models import Order

    resting = {
        row["symbol_id"]: row
        for row in Order.objects.filter(status__in=Order.RESTING_STATUSES)
        .values("symbol_id")
        .annotate(
            bids=Count("id", filter=Q(side=c.BUY, status__in=(c.OPEN, c.PARTIALLY_FILLED))),
            asks=Count("id", filter=Q(side=c.SELL, status__in=(c.OPEN, c.PARTIALLY_FILLED))),
            stops=Count("id", filter=Q(status=c.UNTRIGGERED)),
            best_bid=Max("price", filter=Q(side=c.BUY, status__in=(c.OPEN, c.PARTIALLY_FILLED))),
            best_ask=Min("price", filter=Q(side=c.SELL, status__in=(c.OPEN, c.PARTIALLY_FILLED))),
        )
    }
    backlog = dict(
        EngineCommand.objects.filter(processed_at__isnull=True).values("symbol_id").annotate(n=Count("id")).values_list("symbol_id", "n")
    )
    states = {s.symbol_id: s for s in MatcherState.objects.all()}
    result = []
    for symbol in Symbol.objects.all():
        row = resting.get(symbol.id, {})
        state = states.get(symbol.id)
        result.append({
            "symbol": symbol.name,
            "status": symbol.status,
            "last_price": symbol.last_price,
            "resting_bids": row.get("bids", 0),
            "resting_asks": row.get("asks", 0),
            "untriggered_stops": row.get("stops", 0),
            "best_bid": row.get("best_bid"),
            "best_ask": row.get("best_ask"),
            "book_sequence": state.book_sequence if state else 0,
            "trade_sequence": state.trade_sequence if state else 0,
            "unprocessed_commands": backlog.get(symbol.id, 0),
            "matcher_owner": state.owner if state else "",
            "heartbeat_age_seconds": _age_seconds(state.heartbeat_at) if state else None,
        })
    return result


def trading_stats(*, window_seconds: int = 86400) -> dict:
    """Counts over the last window (24 h by default) and in total."""
    from orders.models import Order, Trade

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
