from django.contrib import admin

from core.admin import ReadOnlyAdmin
from settlement.services import retry_failed_settlements

from .models import Fill, Order, Trade


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["id", "user", "symbol", "side", "type", "price", "quantity", "filled_quantity", "status", "created_at"]
    list_filter = ["status", "side", "type", "time_in_force", "symbol", "created_at"]
    search_fields = ["id", "client_order_id", "user__username", "symbol__name"]
    date_hierarchy = "created_at"
    list_select_related = ["user", "symbol"]


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = ["id", "symbol", "sequence", "price", "quantity", "taker_side", "buyer", "seller", "settlement_status", "executed_at"]
    list_filter = ["symbol", "settlement_status", "taker_side", "executed_at"]
    search_fields = ["id", "buyer__username", "seller__username", "symbol__name", "maker_order__id", "taker_order__id"]
    date_hierarchy = "executed_at"
    list_select_related = ["symbol", "buyer", "seller"]
    actions = ["retry_settlement"]

    @admin.action(description="Retry settlement of the selected FAILED trades")
    def retry_settlement(self, request, queryset):
        count = retry_failed_settlements(trade_ids=queryset.values_list("id", flat=True))
        self.message_user(request, f"{count} trade(s) queued for settlement again.")


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = ["id", "trade", "order", "user", "side", "liquidity", "price", "quantity", "fee", "fee_asset"]
    list_filter = ["symbol", "liquidity"]
