"""Request parsing and response shapes of the public market-data endpoints.

The selectors hand over order books, trades, tickers and candles already
rendered by marketdata.render, the same strings the WebSocket streams carry
(prices and quantities fixed to the symbol's precision), so those fields are
strings here: these serializers decide which keys a body has, not how a
number is written."""

from __future__ import annotations

from datetime import datetime, timezone

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.serializer_fields import PlainDecimalField
from marketdata import selectors
from marketdata.streams import INTERVALS


@extend_schema_field(OpenApiTypes.STR)
class TimestampField(serializers.Field):
    """ISO 8601, or milliseconds since the epoch."""

    def to_internal_value(self, value) -> datetime:
        text = str(value).strip()
        if text.isascii() and text.isdigit():  # "³".isdigit() too, but int() refuses it
            try:
                return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
            except (OverflowError, ValueError, OSError):
                raise serializers.ValidationError("The timestamp is out of range.") from None
        moment = parse_datetime(text)
        if moment is None:
            raise serializers.ValidationError("Use ISO 8601 or milliseconds since the epoch.")
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class OrderBookQuery(serializers.Serializer):
    depth = serializers.IntegerField(min_value=1, max_value=selectors.MAX_DEPTH, default=50)


class TradesQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)


class CandlesQuery(serializers.Serializer):
    interval = serializers.ChoiceField(choices=list(INTERVALS), default="1m")
    start = TimestampField(required=False, help_text="ISO 8601 or epoch milliseconds (inclusive)")
    end = TimestampField(required=False, help_text="ISO 8601 or epoch milliseconds (exclusive); default now")
    limit = serializers.IntegerField(min_value=1, max_value=selectors.MAX_CANDLES, default=selectors.DEFAULT_CANDLES)


class SymbolSerializer(serializers.Serializer):
    """A trading pair and its trading rules."""

    symbol = serializers.CharField(source="name")
    base_asset = serializers.CharField()
    quote_asset = serializers.CharField()
    tick_size = PlainDecimalField()
    step_size = PlainDecimalField()
    min_quantity = PlainDecimalField()
    min_notional = PlainDecimalField()
    status = serializers.CharField(help_text="TRADING or HALTED")
    maker_fee = PlainDecimalField()
    taker_fee = PlainDecimalField()


def _levels() -> serializers.ListField:
    # A new field per use: a field instance belongs to one serializer field name.
    return serializers.ListField(
        child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2),
        help_text='[[price, quantity]], best first: [["50000.00", "1.500"]]',
    )


class OrderBookSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    sequence = serializers.IntegerField(help_text="The book version WebSocket depth updates continue from.")
    bids = _levels()
    asks = _levels()


class PublicTradeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    price = serializers.CharField()
    quantity = serializers.CharField()
    taker_side = serializers.CharField(help_text="BUY or SELL")
    executed_at = serializers.DateTimeField()


class TickerSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    last_price = serializers.CharField(allow_null=True)
    best_bid = serializers.CharField(allow_null=True)
    best_ask = serializers.CharField(allow_null=True)
    open_24h = serializers.CharField(allow_null=True)
    high_24h = serializers.CharField(allow_null=True)
    low_24h = serializers.CharField(allow_null=True)
    volume_24h = serializers.CharField()
    quote_volume_24h = serializers.CharField()
    change_24h_percent = serializers.CharField(allow_null=True)


class CandleSerializer(serializers.Serializer):
    open_time = serializers.DateTimeField()
    open = serializers.CharField()
    high = serializers.CharField()
    low = serializers.CharField()
    close = serializers.CharField()
    volume = serializers.CharField()
    quote_volume = serializers.CharField()


class WebSocketConnectionsSerializer(serializers.Serializer):
    """Summed over the live WebSocket server processes."""

    connections = serializers.IntegerField()
    messages_sent = serializers.IntegerField()
    messages_dropped = serializers.IntegerField()
    slow_consumers_closed = serializers.IntegerField()
    processes = serializers.IntegerField()
    subscriptions = serializers.DictField(child=serializers.IntegerField(), help_text="Subscribers per channel.")
    publisher_dropped = serializers.IntegerField()
