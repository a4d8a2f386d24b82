from django.contrib import admin

from .models import Symbol


@admin.register(Symbol)
class SymbolAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "tick_size", "step_size", "min_quantity", "min_notional", "maker_fee", "taker_fee", "last_price"]
    list_filter = ["status"]
    search_fields = ["name"]
    readonly_fields = ["last_price"]
