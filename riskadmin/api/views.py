"""Operator endpoints (staff only). Views parse, call one service or
selector, and render; every state-changing call is audited by its service."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from core.api.fields import plain
from matching import selectors as matching_selectors
from orders import selectors as order_selectors
from orders import services as order_services
from riskadmin import errors, selectors, services
from riskadmin.models import AuditLog
from riskadmin.selectors import find_symbol

from . import figures, health

AMOUNT = {"max_digits": 36, "decimal_places": 18, "required": False, "allow_null": True}
ERROR = inline_serializer(
    "AdminErrorBody",
    {"error": inline_serializer("AdminError", {"code": serializers.CharField(), "message": serializers.CharField(), "details": serializers.DictField()})},
)
ERRORS = {401: ERROR, 403: ERROR}


def client_ip(request: Request) -> str | None:
    """The caller's address, honouring NUM_PROXIES like the rate limits do."""
    return BaseThrottle().get_ident(request) or None


class AdminView(APIView):
    permission_classes = [IsAdminUser]


class UserLimitsSerializer(serializers.Serializer):
    max_order_size = serializers.DecimalField(**AMOUNT, min_value=0, help_text="Largest order value, in quote.")
    max_daily_volume = serializers.DecimalField(**AMOUNT, min_value=0, help_text="Largest value of orders placed per UTC day, in quote.")
    max_open_orders = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    requires_2fa_above = serializers.DecimalField(**AMOUNT, min_value=0, help_text="Orders worth more (quote) need totp_code.")


class SymbolLimitsSerializer(serializers.Serializer):
    min_order_size = serializers.DecimalField(**AMOUNT, min_value=0, help_text="Smallest quantity, in base.")
    max_order_size = serializers.DecimalField(**AMOUNT, min_value=0, help_text="Largest quantity, in base.")
    max_price_deviation = serializers.DecimalField(
        max_digits=12, decimal_places=6, required=False, allow_null=True, min_value=0,
        help_text="Largest distance of price/stop_price from the last price, as a fraction (0.1 = 10%).",
    )


class UserLimitsBody(UserLimitsSerializer):
    user_id = serializers.IntegerField()


class SymbolLimitsBody(SymbolLimitsSerializer):
    symbol = serializers.CharField()


def _limits_body(limit, fields) -> dict:
    return {f: (plain(v) if hasattr(v, "as_tuple") else v) for f in fields for v in [getattr(limit, f)]}


class UserLimitsView(AdminView):
    @extend_schema(responses={200: UserLimitsBody, 404: ERROR, **ERRORS})
    def get(self, request: Request, user_id: int) -> Response:
        if not get_user_model().objects.filter(id=user_id).exists():
            raise errors.UserNotFound(user_id=user_id)
        limit = selectors.user_limit_for(user_id=user_id)
        return Response({"user_id": user_id, **_limits_body(limit, services.USER_LIMIT_FIELDS)})

    @extend_schema(
        request=UserLimitsSerializer,
        responses={200: UserLimitsBody, 400: ERROR, 404: ERROR, **ERRORS},
        description="Sets the fields given (null clears a limit); the others stay.",
    )
    def post(self, request: Request, user_id: int) -> Response:
        body = UserLimitsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        limit = services.set_user_limits(user_id=user_id, actor=request.user, ip=client_ip(request), **body.validated_data)
        return Response({"user_id": user_id, **_limits_body(limit, services.USER_LIMIT_FIELDS)})


class SymbolLimitsView(AdminView):
    @extend_schema(responses={200: SymbolLimitsBody, 404: ERROR, **ERRORS})
    def get(self, request: Request, symbol: str) -> Response:
        found = find_symbol(symbol)
        limit = selectors.symbol_limit_for(symbol=found)
        return Response({"symbol": found.name, **_limits_body(limit, services.SYMBOL_LIMIT_FIELDS)})

    @extend_schema(
        request=SymbolLimitsSerializer,
        responses={200: SymbolLimitsBody, 400: ERROR, 404: ERROR, **ERRORS},
        description="Sets the fields given (null clears a limit); the others stay.",
    )
    def post(self, request: Request, symbol: str) -> Response:
        found = find_symbol(symbol)
        body = SymbolLimitsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        limit = services.set_symbol_limits(symbol=found, actor=request.user, ip=client_ip(request), **body.validated_data)
        return Response({"symbol": found.name, **_limits_body(limit, services.SYMBOL_LIMIT_FIELDS)})


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class HaltReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


SYMBOL_STATUS = inline_serializer("SymbolStatus", {"symbol": serializers.CharField(), "status": serializers.CharField(), "halt_reason": serializers.CharField()})


def _status_body(symbol) -> dict:
    return {"symbol": symbol.name, "status": symbol.status, "halt_reason": symbol.halt_reason}


class HaltView(AdminView):
    @extend_schema(request=HaltReasonSerializer, responses={200: SYMBOL_STATUS, 400: ERROR, 404: ERROR, **ERRORS})
    def post(self, request: Request, symbol: str) -> Response:
        found = find_symbol(symbol)
        body = HaltReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        halted = services.halt_symbol(symbol=found, reason=body.validated_data["reason"], actor=request.user, ip=client_ip(request))
        return Response(_status_body(halted))


class ResumeView(AdminView):
    @extend_schema(request=ReasonSerializer, responses={200: SYMBOL_STATUS, 404: ERROR, **ERRORS})
    def post(self, request: Request, symbol: str) -> Response:
        found = find_symbol(symbol)
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        resumed = services.resume_symbol(symbol=found, reason=body.validated_data["reason"], actor=request.user, ip=client_ip(request))
        return Response(_status_body(resumed))


class CancelAllView(AdminView):
    @extend_schema(
        request=ReasonSerializer,
        responses={200: inline_serializer("CancelAllResult", {"cancelled": serializers.IntegerField(), "total": serializers.IntegerField()}), 404: ERROR, **ERRORS},
        description="Journals a cancel for every live order of the user (stops included); the matcher applies them.",
    )
    def post(self, request: Request, user_id: int) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = order_services.cancel_all_orders(
            user_id=user_id, actor=request.user, reason=body.validated_data["reason"], ip=client_ip(request)
        )
        return Response(result)


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = AuditLog
        fields = ["id", "actor", "actor_id", "action", "target", "payload", "ip", "created_at"]


class AuditView(AdminView):
    @extend_schema(
        parameters=[
            OpenApiParameter("action", str, description='Exact action or a prefix: "trading" gives trading.halt and trading.resume.'),
            OpenApiParameter("actor", str, description="Username or user id."),
            OpenApiParameter("limit", int, description="At most 1000; default 100."),
        ],
        responses={200: AuditEntrySerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        try:
            limit = int(params.get("limit", 100))
        except ValueError:
            limit = 100
        entries = selectors.audit_entries(action=params.get("action", ""), actor=params.get("actor", ""), limit=limit)
        return Response(AuditEntrySerializer(entries, many=True).data)


class OrderbookStatsView(AdminView):
    @extend_schema(responses={200: inline_serializer("OrderbookStats", {
        **{name: serializers.CharField(allow_null=True) for name in ("symbol", "status", "last_price", "best_bid", "best_ask", "matcher_owner")},
        **{name: serializers.IntegerField() for name in (
            "resting_bids", "resting_asks", "untriggered_stops", "book_sequence", "trade_sequence", "unprocessed_commands")},
        "heartbeat_age_seconds": serializers.FloatField(allow_null=True),
    }, many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        rows = matching_selectors.orderbook_stats()
        for row in rows:
            for key in ("last_price", "best_bid", "best_ask"):
                row[key] = plain(row[key])
        return Response(rows)


COMPONENT = inline_serializer("HealthComponent", {
    "status": serializers.ChoiceField(choices=["healthy", "degraded", "unhealthy", "unknown"]),
    "message": serializers.CharField(), "latency_ms": serializers.FloatField(allow_null=True), "details": serializers.DictField(),
})


class HealthDetailedView(AdminView):
    @extend_schema(responses={200: inline_serializer("DetailedHealth", {
        "status": serializers.ChoiceField(choices=["healthy", "degraded", "unhealthy"]),
        "version": serializers.CharField(), "uptime_seconds": serializers.FloatField(), "timestamp": serializers.DateTimeField(),
        "components": inline_serializer("HealthComponents", {name: COMPONENT for name in health.CHECKS}),
    }), **ERRORS})
    def get(self, request: Request) -> Response:
        return Response(health.detailed_health())


class MetricsView(AdminView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT, **ERRORS}, description="Key figures as JSON; /metrics has them all for Prometheus.")
    def get(self, request: Request) -> Response:
        return Response(figures.metrics_summary())


class StatsView(AdminView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT, **ERRORS}, description="Users, orders and trades over the last 24 hours.")
    def get(self, request: Request) -> Response:
        stats = order_selectors.trading_stats()
        for row in stats["symbols"]:
            row["volume"], row["quote_volume"] = plain(row["volume"]), plain(row["quote_volume"])
        return Response(stats)


class PerformanceView(AdminView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT, **ERRORS}, description="Matcher batch latency and size, settlement latency, backlogs.")
    def get(self, request: Request) -> Response:
        return Response(figures.performance())
