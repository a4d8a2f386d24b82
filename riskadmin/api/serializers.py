"""Request parsing and response shapes of the operator actions: limits,
halts, cancel-all and the audit log."""

from __future__ import annotations

from rest_framework import serializers

from core.api.serializer_fields import PlainDecimalField
from riskadmin.models import AuditLog

AMOUNT = {"max_digits": 36, "decimal_places": 18, "required": False, "allow_null": True}
# Fee rates: never negative (a rebate would need its own ledger leg).
FEE = {"max_digits": 8, "decimal_places": 6, "required": False, "allow_null": True, "min_value": 0}


class UserLimitsSerializer(serializers.Serializer):
    max_order_size = serializers.DecimalField(**AMOUNT, min_value=0, help_text="Largest order value, in quote.")
    max_daily_volume = serializers.DecimalField(**AMOUNT, min_value=0, help_text="Largest value of orders placed per UTC day, in quote.")
    max_open_orders = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    requires_2fa_above = serializers.DecimalField(**AMOUNT, min_value=0, help_text="Orders worth more (quote) need totp_code.")
    orders_per_10s = serializers.IntegerField(required=False, allow_null=True, min_value=0, help_text="Overrides the venue's order rate per 10 s.")
    orders_per_day = serializers.IntegerField(required=False, allow_null=True, min_value=0, help_text="Overrides the venue's orders per day.")
    maker_fee = serializers.DecimalField(**FEE, help_text="Overrides every symbol's maker fee for this user (0.0005 = 0.05%).")
    taker_fee = serializers.DecimalField(**FEE, help_text="Overrides every symbol's taker fee for this user.")


class SymbolLimitsSerializer(serializers.Serializer):
    min_order_size = serializers.DecimalField(**AMOUNT, min_value=0, help_text="Smallest quantity, in base.")
    max_order_size = serializers.DecimalField(**AMOUNT, min_value=0, help_text="Largest quantity, in base.")
    max_price_deviation = serializers.DecimalField(
        max_digits=12, decimal_places=6, required=False, allow_null=True, min_value=0,
        help_text="Largest distance of price/stop_price from the last price, as a fraction (0.1 = 10%).",
    )


class UserLimitsBodySerializer(serializers.Serializer):
    """A user's trading limits; null means no limit."""

    user_id = serializers.IntegerField()
    max_order_size = PlainDecimalField(allow_null=True, help_text="Largest order value, in quote.")
    max_daily_volume = PlainDecimalField(allow_null=True, help_text="Largest value of orders placed per UTC day, in quote.")
    max_open_orders = serializers.IntegerField(allow_null=True)
    requires_2fa_above = PlainDecimalField(allow_null=True, help_text="Orders worth more (quote) need totp_code.")
    orders_per_10s = serializers.IntegerField(allow_null=True, help_text="null = the venue default.")
    orders_per_day = serializers.IntegerField(allow_null=True, help_text="null = the venue default.")
    maker_fee = PlainDecimalField(allow_null=True, help_text="null = the symbol's maker fee.")
    taker_fee = PlainDecimalField(allow_null=True, help_text="null = the symbol's taker fee.")


class SymbolLimitsBodySerializer(serializers.Serializer):
    """A symbol's trading limits; null means no limit."""

    symbol = serializers.CharField(source="symbol.name")
    min_order_size = PlainDecimalField(allow_null=True, help_text="Smallest quantity, in base.")
    max_order_size = PlainDecimalField(allow_null=True, help_text="Largest quantity, in base.")
    max_price_deviation = PlainDecimalField(allow_null=True, help_text="As a fraction of the last price (0.1 = 10%).")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class HaltReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class SymbolStatusSerializer(serializers.Serializer):
    """The symbol's trading status after a halt or a resume."""

    symbol = serializers.CharField(source="name")
    status = serializers.CharField(help_text="TRADING or HALTED")
    halt_reason = serializers.CharField()


class CancelAllResultSerializer(serializers.Serializer):
    """Cancels journaled for the user's live orders (stops included)."""

    # Renders what orders.services.cancel_all_orders returns.
    cancelled = serializers.IntegerField(help_text="Cancels journaled.")
    total = serializers.IntegerField(help_text="Live orders found; one that ended meanwhile counts here only.")


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = AuditLog
        fields = ["id", "actor", "actor_id", "action", "target", "payload", "ip", "created_at"]
