from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import EngineCommand, MatcherState


@admin.register(EngineCommand)
class EngineCommandAdmin(ReadOnlyAdmin):
    """The journal: written by the order services, consumed by the matcher."""

    list_display = ["id", "symbol", "kind", "order", "created_at", "processed_at"]
    list_filter = ["kind", "symbol"]


@admin.register(MatcherState)
class MatcherStateAdmin(ReadOnlyAdmin):
    list_display = ["symbol", "book_sequence", "trade_sequence", "heartbeat_at", "owner"]
