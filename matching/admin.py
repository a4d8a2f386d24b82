from django.contrib import admin

from .models import EngineCommand, MatcherState


@admin.register(EngineCommand)
class EngineCommandAdmin(admin.ModelAdmin):
    list_display = ["id", "symbol", "kind", "order", "created_at", "processed_at"]
    list_filter = ["kind", "symbol"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(MatcherState)
class MatcherStateAdmin(admin.ModelAdmin):
    list_display = ["symbol", "book_sequence", "trade_sequence", "heartbeat_at", "owner"]
