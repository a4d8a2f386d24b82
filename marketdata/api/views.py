"""Public market-data endpoints, and the operators' WebSocket statistics.
Views parse the query, call one selector, and render."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_responses
from core.api.permissions import ApiKeyScope
from marketdata import selectors
from riskadmin.models import Symbol
from riskadmin.selectors import find_symbol

from .serializers import (
    CandleSerializer,
    CandlesQuery,
    OrderBookQuery,
    OrderBookSerializer,
    PublicTradeSerializer,
    SymbolSerializer,
    TickerSerializer,
    TradesQuery,
    WebSocketConnectionsSerializer,
)

SYMBOL_PATH = OpenApiParameter(
    "symbol", str, OpenApiParameter.PATH, description='"BTC-USDT" (or "BTC/USDT" URL-encoded)'
)


def _query(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class PublicView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []


class SymbolListView(PublicView):
    @extend_schema(responses=SymbolSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(SymbolSerializer(Symbol.objects.all(), many=True).data)


class OrderBookView(PublicView):
    @extend_schema(parameters=[SYMBOL_PATH, OrderBookQuery], responses={200: OrderBookSerializer, **error_responses(400, 404)},
                   description="The matcher's latest snapshot: `sequence` is the book version that WebSocket "
                               "depth updates continue from.")
    def get(self, request: Request, symbol: str) -> Response:
        query = _query(OrderBookQuery, request)
        book = selectors.order_book(symbol=find_symbol(symbol), depth=query["depth"])
        return Response(OrderBookSerializer(book).data)


class TradeListView(PublicView):
    @extend_schema(parameters=[SYMBOL_PATH, TradesQuery], responses={200: PublicTradeSerializer(many=True), **error_responses(400, 404)},
                   description="Newest first.")
    def get(self, request: Request, symbol: str) -> Response:
        query = _query(TradesQuery, request)
        trades = selectors.recent_trades(symbol=find_symbol(symbol), limit=query["limit"])
        return Response(PublicTradeSerializer(trades, many=True).data)


class TickerView(PublicView):
    @extend_schema(parameters=[SYMBOL_PATH], responses={200: TickerSerializer, **error_responses(404)}, description="Rolling 24 hours.")
    def get(self, request: Request, symbol: str) -> Response:
        return Response(TickerSerializer(selectors.ticker(symbol=find_symbol(symbol))).data)


class CandleListView(PublicView):
    @extend_schema(parameters=[SYMBOL_PATH, CandlesQuery], responses={200: CandleSerializer(many=True), **error_responses(400, 404)},
                   description="Oldest first; intervals without trades are left out.")
    def get(self, request: Request, symbol: str) -> Response:
        query = _query(CandlesQuery, request)
        candles = selectors.candles(symbol=find_symbol(symbol), **query)
        return Response(CandleSerializer(candles, many=True).data)


class WebSocketConnectionsView(APIView):
    permission_classes = [IsAdminUser, ApiKeyScope]

    @extend_schema(responses={200: WebSocketConnectionsSerializer, **error_responses(401, 403)},
                   description="Summed over the live WebSocket server processes.")
    def get(self, request: Request) -> Response:
        return Response(WebSocketConnectionsSerializer(selectors.websocket_connection_stats()).data)
