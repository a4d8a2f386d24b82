"""Operator endpoints of settlement (staff only)."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_responses
from core.api.permissions import ApiKeyScope
from riskadmin.errors import UserNotFound
from settlement.balances import deposit
from settlement.selectors import settlement_queue_stats

from .serializers import DepositResultSerializer, DepositSerializer, SettlementQueueSerializer


class DepositView(APIView):
    permission_classes = [IsAdminUser, ApiKeyScope]

    @extend_schema(
        request=DepositSerializer,
        responses={201: DepositResultSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request) -> Response:
        body = DepositSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        # Without this check the ledger's foreign key would refuse the row: a
        # database error, which the API reports as an outage, not a 404.
        if not get_user_model().objects.filter(id=data["user_id"]).exists():
            raise UserNotFound(user_id=data["user_id"])
        balance = deposit(user_id=data["user_id"], asset=data["asset"], amount=data["amount"], reference=data["reference"])
        return Response(DepositResultSerializer(balance).data, status=status.HTTP_201_CREATED)


class SettlementQueueView(APIView):
    permission_classes = [IsAdminUser, ApiKeyScope]

    @extend_schema(responses={200: SettlementQueueSerializer, **error_responses(401, 403)})
    def get(self, request: Request) -> Response:
        return Response(SettlementQueueSerializer(settlement_queue_stats()).data)
