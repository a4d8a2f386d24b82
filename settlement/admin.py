from django.contrib import admin

from .models import Balance


@admin.register(Balance)
class BalanceAdmin(admin.ModelAdmin):
    list_display = ["user", "asset", "available", "locked", "updated_at"]
    search_fields = ["user__username", "asset"]
    list_filter = ["asset"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # balances move only through settlement services

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
