"""Request parsing and response shapes of the settlement endpoints."""

from __future__ import annotations

from rest_framework import serializers

from core.api.serializer_fields import PlainDecimalField


class DepositSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(min_value=1)
    asset = serializers.RegexField(r"^[A-Za-z0-9]{1,16}$")
    amount = serializers.DecimalField(max_digits=36, decimal_places=18)
    reference = serializers.CharField(max_length=80, required=False, default="", help_text="External transaction id; a repeat credits nothing more.")


class BalanceSerializer(serializers.Serializer):
    """One asset of the caller's balances."""

    asset = serializers.CharField()
    available = PlainDecimalField()
    locked = PlainDecimalField()


class DepositResultSerializer(serializers.Serializer):
    """The credited user's balance of the deposited asset, after the deposit."""

    user_id = serializers.IntegerField()
    asset = serializers.CharField()
    available = PlainDecimalField()
    locked = PlainDecimalField()


class SettlementQueueSerializer(serializers.Serializer):
    """Settlement backlog, and how settlement fared over the window."""

    # Renders settlement.selectors.settlement_queue_stats.
    queue_size = serializers.IntegerField(allow_null=True, help_text="Tasks waiting in the broker; null when it cannot be read.")
    pending = serializers.IntegerField(help_text="Trades not settled yet.")
    failed = serializers.IntegerField(help_text="Trades whose settlement failed for good.")
    average_settlement_ms = serializers.FloatField(allow_null=True, help_text="Over the window; null without settled trades.")
    success_rate = serializers.FloatField(allow_null=True, help_text="Settled / finished over the window; null when none finished.")
    window_seconds = serializers.IntegerField()
