"""Public market-data endpoints."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from riskadmin.models import Symbol
from tradeengine.api.fields import plain

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


class SymbolListView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses=SYMBOL)
    def get(self, request: Request) -> Response:
        return Response([symbol_body(s) for s in Symbol.objects.all()])
