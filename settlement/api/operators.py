"""Operator endpoints of settlement (staff only)."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.fields import plain

from settlement.selectors import settlement_queue_stats
from settlement.balances import deposit


class DepositSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(min_value=1)
    asset = serializers.RegexField(r"^[A-Za-z0-9]{1,16}$")
    amount = serializers.DecimalField(max_digits=36, decimal_places=18)
    reference = serializers.CharField(max_length=80, required=False, default="", help_text="External transaction id; a repeat credits nothing more.")


class DepositView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        request=DepositSerializer,
        responses={201: inline_serializer("DepositResult", {"user_id": serializers.IntegerField(), "asset": serializers.CharField(), "available": serializers.CharField(), "locked": serializers.CharField()})},
    )
    def post(self, request: Request) -> Response:
        body = DepositSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if not get_user_model().objects.filter(id=data["user_id"]).exists():
            return Response({"error": {"code": "USER_NOT_FOUND", "message": "No such user.", "details": {"user_id": data["user_id"]}}}, status=404)
        balance = deposit(user_id=data["user_id"], asset=data["asset"], amount=data["amount"], reference=data["reference"])
        return Response(
            {"user_id": balance.user_id, "asset": balance.asset, "available": plain(balance.available), "locked": plain(balance.locked)},
            status=status.HTTP_201_CREATED,
        )


class SettlementQueueView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses=inline_serializer("SettlementQueue", {
        "queue_size": serializers.IntegerField(allow_null=True), "pending": serializers.IntegerField(),
        "failed": serializers.IntegerField(), "average_settlement_ms": serializers.FloatField(allow_null=True),
        "success_rate": serializers.FloatField(allow_null=True), "window_seconds": serializers.IntegerField(),
    }))
    def get(self, request: Request) -> Response:
        return Response(settlement_queue_stats())
