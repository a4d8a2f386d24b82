"""Public market-data endpoints, and the operators' WebSocket statistics."""

from __future__ import annotations

from datetime import datetime, timezone

from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import plain
from marketdata import selectors
from marketdata.streams import INTERVALS
from riskadmin.models import Symbol
from riskadmin.selectors import find_symbol

SYMBOL = inline_serializer(
    "Symbol",
    {
        name: serializers.CharField()
        for name in (
            "symbol", "base_asset", "quote_asset", "tick_size", "step_size", "min_quantity",
            "min_notional", "status", "maker_fee", "taker_fee",
        )
    },
    many=True,
)
LEVELS = serializers.ListField(child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2))
ORDER_BOOK = inline_serializer(
    "OrderBook",
    {"symbol": serializers.CharField(), "sequence": serializers.IntegerField(), "bids": LEVELS, "asks": LEVELS},
)
TRADE = inline_serializer(
    "PublicTrade",
    {
        "id": serializers.IntegerField(),
        "price": serializers.CharField(),
        "quantity": serializers.CharField(),
        "taker_side": serializers.CharField(help_text="BUY or SELL"),
        "executed_at": serializers.DateTimeField(),
    },
    many=True,
)
TICKER = inline_serializer(
    "Ticker",
    {
        "symbol": serializers.CharField(),
        **{
            name: serializers.CharField(allow_null=True)
            for name in ("last_price", "best_bid", "best_ask", "open_24h", "high_24h", "low_24h", "change_24h_percent")
        },
        "volume_24h": serializers.CharField(),
        "quote_volume_24h": serializers.CharField(),
    },
)
CANDLE = inline_serializer(
    "Candle",
    {
        "open_time": serializers.DateTimeField(),
        **{name: serializers.CharField() for name in ("open", "high", "low", "close", "volume", "quote_volume")},
    },
    many=True,
)
CONNECTIONS = inline_serializer(
    "WebSocketConnections",
    {
        "connections": serializers.IntegerField(),
        "processes": serializers.IntegerField(),
        "subscriptions": serializers.DictField(child=serializers.IntegerField()),
        "messages_sent": serializers.IntegerField(),
        "messages_dropped": serializers.IntegerField(),
        "slow_consumers_closed": serializers.IntegerField(),
        "publisher_dropped": serializers.IntegerField(),
    },
)
SYMBOL_PATH = OpenApiParameter(
    "symbol", str, OpenApiParameter.PATH, description='"BTC-USDT" (or "BTC/USDT" URL-encoded)'
)


@extend_schema_field(OpenApiTypes.STR)
class TimestampField(serializers.Field):
    """ISO 8601, or milliseconds since the epoch."""

    def to_internal_value(self, value) -> datetime:
        text = str(value).strip()
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
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


def symbol_body(symbol: Symbol) -> dict:
    return {
        "symbol": symbol.name,
        "base_asset": symbol.base_asset,
        "quote_asset": symbol.quote_asset,
        "tick_size": plain(symbol.tick_size),
        "step_size": plain(symbol.step_size),
        "min_quantity": plain(symbol.min_quantity),
        "min_notional": plain(symbol.min_notional),
        "status": symbol.status,
        "maker_fee": plain(symbol.maker_fee),
        "taker_fee": plain(symbol.taker_fee),
    }


def _query(serializer_class, request: Request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class PublicView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []


class SymbolListView(PublicView):
    @extend_schema(responses=SYMBOL)
    def get(self, request: Request) -> Response:
        return Response([symbol_body(s) for s in Symbol.objects.all()])


class OrderBookView(PublicView):
    @extend_schema(parameters=[SYMBOL_PATH, OrderBookQuery], responses=ORDER_BOOK,
                   description="The matcher's latest snapshot: `sequence` is the book version that WebSocket "
                               "depth updates continue from.")
    def get(self, request: Request, symbol: str) -> Response:
        query = _query(OrderBookQuery, request)
        return Response(selectors.order_book(symbol=find_symbol(symbol), depth=query["depth"]))


class TradeListView(PublicView):
    @extend_schema(parameters=[SYMBOL_PATH, TradesQuery], responses=TRADE, description="Newest first.")
    def get(self, request: Request, symbol: str) -> Response:
        query = _query(TradesQuery, request)
        return Response(selectors.recent_trades(symbol=find_symbol(symbol), limit=query["limit"]))


class TickerView(PublicView):
    @extend_schema(parameters=[SYMBOL_PATH], responses=TICKER, description="Rolling 24 hours.")
    def get(self, request: Request, symbol: str) -> Response:
        return Response(selectors.ticker(symbol=find_symbol(symbol)))


class CandleListView(PublicView):
    @extend_schema(parameters=[SYMBOL_PATH, CandlesQuery], responses=CANDLE,
                   description="Oldest first; intervals without trades are left out.")
    def get(self, request: Request, symbol: str) -> Response:
        query = _query(CandlesQuery, request)
        return Response(selectors.candles(symbol=find_symbol(symbol), **query))


class WebSocketConnectionsView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=CONNECTIONS, description="Summed over the live WebSocket server processes.")
    def get(self, request: Request) -> Response:
        return Response(selectors.websocket_connection_stats())
