from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import ArchivedCommand, EngineCommand, JournalCheckpoint, MatcherState


@admin.register(EngineCommand)
class EngineCommandAdmin(ReadOnlyAdmin):
    """The journal: written by the order services, consumed by the matcher."""

    list_display = ["id", "symbol", "kind", "order", "created_at", "processed_at"]
    list_filter = ["kind", "symbol"]


@admin.register(MatcherState)
class MatcherStateAdmin(ReadOnlyAdmin):
    list_display = ["symbol", "book_sequence", "trade_sequence", "heartbeat_at", "owner"]


@admin.register(ArchivedCommand)
class ArchivedCommandAdmin(ReadOnlyAdmin):
    """Processed commands moved out of the journal after the retention period."""

    list_display = ["id", "symbol", "kind", "order", "created_at", "processed_at"]
    list_filter = ["kind", "symbol"]
    show_full_result_count = False  # no COUNT(*) over millions of rows per page


@admin.register(JournalCheckpoint)
class JournalCheckpointAdmin(ReadOnlyAdmin):
    list_display = ["symbol", "through", "last_command_id", "commands", "trade_sequence", "created_at"]
    exclude = ["orders"]  # the whole book: large
