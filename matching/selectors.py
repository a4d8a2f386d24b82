"""Reads of the matcher's progress, for operators."""

from __future__ import annotations

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from matching.engine import constants as c
from orders.models import Order
from riskadmin.models import Symbol

from .models import EngineCommand, MatcherState


def _age_seconds(moment) -> float | None:
    return None if moment is None else round((timezone.now() - moment).total_seconds(), 3)


def orderbook_stats() -> list[dict]:
    """Per symbol: what rests in the book (from the database, the source of
    truth), the matcher's progress and its command backlog."""
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
