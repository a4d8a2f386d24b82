"""Operator endpoints (staff only). Views parse, call one service or
selector, and render; every state-changing call is audited by its service."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.client import client_ip
from core.api.errors import error_responses
from core.api.permissions import ApiKeyScope
from matching import selectors as matching_selectors
from orders import selectors as order_selectors
from orders import services as order_services
from riskadmin import errors, selectors, services
from riskadmin.selectors import find_symbol

from . import figures, health
from .figure_serializers import (
    DetailedHealthSerializer,
    MetricsSummarySerializer,
    OrderbookStatsSerializer,
    PerformanceSerializer,
    TradingStatsSerializer,
)
from .serializers import (
    AuditEntrySerializer,
    CancelAllResultSerializer,
    HaltReasonSerializer,
    ReasonSerializer,
    SymbolLimitsBodySerializer,
    SymbolLimitsSerializer,
    SymbolStatusSerializer,
    UserLimitsBodySerializer,
    UserLimitsSerializer,
)

ERRORS = error_responses(401, 403)


class AdminView(APIView):
    permission_classes = [IsAdminUser, ApiKeyScope]


class UserLimitsView(AdminView):
    @extend_schema(responses={200: UserLimitsBodySerializer, **error_responses(404), **ERRORS})
    def get(self, request: Request, user_id: int) -> Response:
        if not get_user_model().objects.filter(id=user_id).exists():
            raise errors.UserNotFound(user_id=user_id)
        return Response(UserLimitsBodySerializer(selectors.user_limit_for(user_id=user_id)).data)

    @extend_schema(
        request=UserLimitsSerializer,
        responses={200: UserLimitsBodySerializer, **error_responses(400, 404), **ERRORS},
        description="Sets the fields given (null clears a limit); the others stay.",
    )
    def post(self, request: Request, user_id: int) -> Response:
        body = UserLimitsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        limit = services.set_user_limits(user_id=user_id, actor=request.user, ip=client_ip(request), **body.validated_data)
        return Response(UserLimitsBodySerializer(limit).data)


class SymbolLimitsView(AdminView):
    @extend_schema(responses={200: SymbolLimitsBodySerializer, **error_responses(404), **ERRORS})
    def get(self, request: Request, symbol: str) -> Response:
        return Response(SymbolLimitsBodySerializer(selectors.symbol_limit_for(symbol=find_symbol(symbol))).data)

    @extend_schema(
        request=SymbolLimitsSerializer,
        responses={200: SymbolLimitsBodySerializer, **error_responses(400, 404), **ERRORS},
        description="Sets the fields given (null clears a limit); the others stay.",
    )
    def post(self, request: Request, symbol: str) -> Response:
        found = find_symbol(symbol)
        body = SymbolLimitsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        limit = services.set_symbol_limits(symbol=found, actor=request.user, ip=client_ip(request), **body.validated_data)
        return Response(SymbolLimitsBodySerializer(limit).data)


class HaltView(AdminView):
    @extend_schema(request=HaltReasonSerializer, responses={200: SymbolStatusSerializer, **error_responses(400, 404), **ERRORS})
    def post(self, request: Request, symbol: str) -> Response:
        found = find_symbol(symbol)
        body = HaltReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        halted = services.halt_symbol(symbol=found, reason=body.validated_data["reason"], actor=request.user, ip=client_ip(request))
        return Response(SymbolStatusSerializer(halted).data)


class ResumeView(AdminView):
    @extend_schema(request=ReasonSerializer, responses={200: SymbolStatusSerializer, **error_responses(404), **ERRORS})
    def post(self, request: Request, symbol: str) -> Response:
        found = find_symbol(symbol)
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        resumed = services.resume_symbol(symbol=found, reason=body.validated_data["reason"], actor=request.user, ip=client_ip(request))
        return Response(SymbolStatusSerializer(resumed).data)


class CancelAllView(AdminView):
    @extend_schema(
        request=ReasonSerializer,
        responses={200: CancelAllResultSerializer, **error_responses(404), **ERRORS},
        description="Journals a cancel for every live order of the user (stops included); the matcher applies them.",
    )
    def post(self, request: Request, user_id: int) -> Response:
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = order_services.cancel_all_orders(
            user_id=user_id, actor=request.user, reason=body.validated_data["reason"], ip=client_ip(request)
        )
        return Response(CancelAllResultSerializer(result).data)


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
    @extend_schema(responses={200: OrderbookStatsSerializer(many=True), **ERRORS})
    def get(self, request: Request) -> Response:
        return Response(OrderbookStatsSerializer(matching_selectors.orderbook_stats(), many=True).data)


class HealthDetailedView(AdminView):
    @extend_schema(responses={200: DetailedHealthSerializer, **ERRORS})
    def get(self, request: Request) -> Response:
        return Response(DetailedHealthSerializer(health.detailed_health()).data)


class MetricsView(AdminView):
    @extend_schema(responses={200: MetricsSummarySerializer, **ERRORS}, description="Key figures as JSON; /metrics has them all for Prometheus.")
    def get(self, request: Request) -> Response:
        return Response(MetricsSummarySerializer(figures.metrics_summary()).data)


class StatsView(AdminView):
    @extend_schema(responses={200: TradingStatsSerializer, **ERRORS}, description="Users, orders and trades over the last 24 hours.")
    def get(self, request: Request) -> Response:
        return Response(TradingStatsSerializer(order_selectors.trading_stats()).data)


class PerformanceView(AdminView):
    @extend_schema(responses={200: PerformanceSerializer, **ERRORS}, description="Matcher batch latency and size, settlement latency, backlogs.")
    def get(self, request: Request) -> Response:
        return Response(PerformanceSerializer(figures.performance()).data)
