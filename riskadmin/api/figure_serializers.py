"""Response shapes of the operators' figures: order book and trading
statistics, detailed health, metrics and performance.

Histograms and counters keep free-form objects: their keys are label values
and Redis may be unreadable, in which case a histogram says so instead."""

from __future__ import annotations

from rest_framework import serializers

from core.api.serializer_fields import PlainDecimalField

from . import health

HISTOGRAM = "{count, average, p50, p95, p99}; {count: 0} before the first sample; {error} when Redis cannot be read."


class OrderbookStatsSerializer(serializers.Serializer):
    """Per symbol: the resting book (from the database), the matcher's progress
    and its command backlog."""

    # Renders one row of matching.selectors.orderbook_stats.
    symbol = serializers.CharField()
    status = serializers.CharField()
    last_price = PlainDecimalField(allow_null=True)
    resting_bids = serializers.IntegerField()
    resting_asks = serializers.IntegerField()
    untriggered_stops = serializers.IntegerField()
    best_bid = PlainDecimalField(allow_null=True)
    best_ask = PlainDecimalField(allow_null=True)
    book_sequence = serializers.IntegerField()
    trade_sequence = serializers.IntegerField()
    unprocessed_commands = serializers.IntegerField()
    matcher_owner = serializers.CharField(help_text="Empty when no matcher has claimed the symbol.")
    heartbeat_age_seconds = serializers.FloatField(allow_null=True)


class OrderCountsSerializer(serializers.Serializer):
    placed = serializers.IntegerField()
    filled = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    rejected = serializers.IntegerField()


class SymbolVolumeSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    trades = serializers.IntegerField()
    volume = PlainDecimalField(help_text="In base.")
    quote_volume = PlainDecimalField(help_text="In quote.")


class TradingStatsSerializer(serializers.Serializer):
    """Counts over the window, and totals as they stand now."""

    # Renders orders.selectors.trading_stats.
    window_seconds = serializers.IntegerField()
    users = serializers.IntegerField()
    active_traders = serializers.IntegerField(help_text="Users who placed an order in the window.")
    open_orders = serializers.IntegerField()
    orders = OrderCountsSerializer(help_text="Placed in the window, by the status they have now.")
    trades = serializers.IntegerField()
    symbols = SymbolVolumeSerializer(many=True, help_text="Symbols traded in the window.")
    halted_symbols = serializers.ListField(child=serializers.CharField())


class HealthComponentSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[health.HEALTHY, health.DEGRADED, health.UNHEALTHY, health.UNKNOWN])
    message = serializers.CharField()
    latency_ms = serializers.FloatField(allow_null=True)
    details = serializers.DictField(help_text="What the check measured; differs per component.")


class HealthComponentsSerializer(serializers.Serializer):
    """One entry per component checked."""

    # Built from health.CHECKS, so a new check is documented and rendered too.
    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: HealthComponentSerializer() for name in health.CHECKS}


class DetailedHealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=[health.HEALTHY, health.DEGRADED, health.UNHEALTHY])
    version = serializers.CharField()
    uptime_seconds = serializers.FloatField()
    timestamp = serializers.DateTimeField()
    components = HealthComponentsSerializer()


class MatcherFiguresSerializer(serializers.Serializer):
    batch_size = serializers.DictField(help_text=HISTOGRAM)
    batch_ms = serializers.DictField(help_text=HISTOGRAM)


class CommandBacklogSerializer(serializers.Serializer):
    unprocessed_commands = serializers.IntegerField()
    oldest_unprocessed_age_seconds = serializers.FloatField(allow_null=True)


class MetricsSummarySerializer(serializers.Serializer):
    """Key figures of the web process, the matcher and settlement."""

    # Renders figures.metrics_summary.
    web_process = serializers.DictField(help_text="This API's counters: {name: {labels: count}}.")
    matcher = MatcherFiguresSerializer()
    engine_commands = CommandBacklogSerializer()
    settlement = serializers.DictField(help_text="As GET /api/v1/admin/settlement/queue answers.")


class PerformanceSerializer(serializers.Serializer):
    """Matcher batch latency and size, settlement latency, backlogs."""

    # Renders figures.performance.
    matcher_batch_ms = serializers.DictField(help_text=HISTOGRAM)
    matcher_batch_size = serializers.DictField(help_text=HISTOGRAM)
    settlement_average_ms = serializers.FloatField(allow_null=True)
    settlement_success_rate = serializers.FloatField(allow_null=True)
    database_latency_ms = serializers.FloatField()
    redis_latency_ms = serializers.FloatField()
    unprocessed_commands = serializers.IntegerField()
    oldest_unprocessed_age_seconds = serializers.FloatField(allow_null=True)
