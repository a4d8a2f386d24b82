"""GET /api/v1/balances."""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from settlement.selectors import balances_for

from .serializers import BalanceSerializer


class BalanceListView(APIView):
    @extend_schema(responses=BalanceSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(BalanceSerializer(balances_for(user_id=request.user.id), many=True).data)
