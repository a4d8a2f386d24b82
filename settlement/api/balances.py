"""GET /api/v1/balances."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import plain

from settlement.selectors import balances_for

BALANCE = inline_serializer(
    "Balance",
    {"asset": serializers.CharField(), "available": serializers.CharField(), "locked": serializers.CharField()},
    many=True,
)


class BalanceListView(APIView):
    @extend_schema(responses=BALANCE)
    def get(self, request: Request) -> Response:
        return Response(
            [
                {"asset": b.asset, "available": plain(b.available), "locked": plain(b.locked)}
                for b in balances_for(user_id=request.user.id)
            ]
        )
