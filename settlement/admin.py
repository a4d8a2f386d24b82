from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import Balance, LedgerEntry


@admin.register(Balance)
class BalanceAdmin(admin.ModelAdmin):
    list_display = ["user", "asset", "available", "locked", "updated_at"]
    search_fields = ["user__username", "asset"]
    list_filter = ["asset"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # balances move only through settlement services

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    """Append-only: no add, change or delete here (the database refuses them too)."""

    list_display = ["id", "created_at", "account", "asset", "bucket", "amount", "kind", "reference", "leg"]
    list_filter = ["kind", "bucket", "asset"]
    search_fields = ["reference", "account__username"]
