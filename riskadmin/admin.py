"""Django admin for operators. Every change goes through riskadmin.services,
like the admin API, so it is validated and audited the same way."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from core.admin import ReadOnlyAdmin, ask_reason
from core.api.client import client_ip
from orders import services as order_services

from . import services
from .models import AuditLog, Symbol, SymbolLimit, UserLimit


class SymbolLimitInline(admin.StackedInline):
    model = SymbolLimit
    can_delete = False
    readonly_fields = ["min_order_size", "max_order_size", "max_price_deviation", "updated_at"]
    verbose_name_plural = "Limits (edit under Symbol limits, so changes are audited)"

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Symbol)
class SymbolAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "halt_reason", "tick_size", "step_size", "min_quantity", "min_notional", "maker_fee", "taker_fee", "last_price"]
    list_filter = ["status"]
    search_fields = ["name"]
    # Status changes only through the halt and resume actions (audited, broadcast).
    readonly_fields = ["status", "halt_reason", "last_price"]
    inlines = [SymbolLimitInline]
    actions = ["halt", "resume"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # orders and trades point at symbols

    @admin.action(description="Halt trading on the selected symbols")
    def halt(self, request, queryset):
        def apply(symbol, reason):
            return services.halt_symbol(symbol=symbol, reason=reason, actor=request.user, ip=client_ip(request))

        result = ask_reason(self, request, queryset, action="halt", title="Halt trading", apply=apply)
        if isinstance(result, list):
            self.message_user(request, f"Halted: {', '.join(s.name for s in result)}.", messages.WARNING)
            return None
        return result

    @admin.action(description="Resume trading on the selected symbols")
    def resume(self, request, queryset):
        def apply(symbol, reason):
            return services.resume_symbol(symbol=symbol, reason=reason, actor=request.user, ip=client_ip(request))

        result = ask_reason(self, request, queryset, action="resume", title="Resume trading", apply=apply)
        if isinstance(result, list):
            self.message_user(request, f"Trading again: {', '.join(s.name for s in result)}.", messages.SUCCESS)
            return None
        return result


class AuditedLimitAdmin(admin.ModelAdmin):
    """Limits are saved through the service so each change is audited."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # clear a limit by emptying its field: that is audited

    def get_readonly_fields(self, request, obj=None):
        return [self.owner_field] if obj is not None else []

    def save_model(self, request, obj, form, change) -> None:
        values = {name: form.cleaned_data.get(name) for name in self.limit_fields}
        saved = self.save_limits(request, obj, values)
        obj.pk = saved.pk


@admin.register(SymbolLimit)
class SymbolLimitAdmin(AuditedLimitAdmin):
    list_display = ["symbol", "min_order_size", "max_order_size", "max_price_deviation", "updated_at"]
    owner_field = "symbol"
    limit_fields = services.SYMBOL_LIMIT_FIELDS

    def save_limits(self, request, obj, values):
        return services.set_symbol_limits(symbol=obj.symbol, actor=request.user, ip=client_ip(request), **values)


@admin.register(UserLimit)
class UserLimitAdmin(AuditedLimitAdmin):
    list_display = ["user", "max_order_size", "max_daily_volume", "max_open_orders", "requires_2fa_above", "updated_at"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]
    owner_field = "user"
    limit_fields = services.USER_LIMIT_FIELDS

    def save_limits(self, request, obj, values):
        return services.set_user_limits(user_id=obj.user_id, actor=request.user, ip=client_ip(request), **values)


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    """Read-only: the database refuses changes anyway."""

    list_display = ["created_at", "actor_name", "action", "target", "ip"]
    list_filter = ["action"]
    search_fields = ["actor_name", "target", "action"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "actor", "actor_name", "action", "target", "payload", "ip"]


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class TraderAdmin(UserAdmin):
    """The stock user admin plus the emergency cancel-all action."""

    actions = ["cancel_all_orders"]

    @admin.action(description="Cancel all live orders of the selected users")
    def cancel_all_orders(self, request, queryset):
        def apply(user, reason):
            return order_services.cancel_all_orders(user_id=user.id, actor=request.user, reason=reason, ip=client_ip(request))

        result = ask_reason(self, request, queryset, action="cancel_all_orders", title="Cancel all live orders", apply=apply)
        if isinstance(result, list):
            cancelled = sum(r["cancelled"] for r in result)
            self.message_user(request, f"{cancelled} cancel(s) sent to the matcher.", messages.WARNING)
            return None
        return result
