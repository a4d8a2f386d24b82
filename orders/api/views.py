"""Trader endpoints: account, orders and fills. Views parse, call one
service or selector, and render."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from matching.engine import constants as c
from matching.services import wait_for_command
from orders import selectors, services
from orders.validation import OrderRequest
from tradeengine.api.pagination import NewestFirstCursorPagination

from .serializers import FillSerializer, OrderSerializer, PlaceOrderSerializer

ERROR = inline_serializer(
    "ErrorBody",
    {"error": inline_serializer("Error", {"code": serializers.CharField(), "message": serializers.CharField(), "details": serializers.DictField()})},
)


class AccountView(APIView):
    @extend_schema(
        responses=inline_serializer(
            "Account", {"id": serializers.IntegerField(), "username": serializers.CharField(), "is_staff": serializers.BooleanField()}
        )
    )
    def get(self, request: Request) -> Response:
        user = request.user
        return Response({"id": user.id, "username": user.get_username(), "is_staff": user.is_staff})


def _symbol_filter(request: Request) -> int | None:
    name = request.query_params.get("symbol")
    return services.find_symbol(name).id if name else None


def _render_order(request: Request, order_id: int, http_status: int) -> Response:
    order = selectors.order_for_user(user=request.user, order_id=order_id)
    return Response(OrderSerializer(order).data, status=http_status)


class OrderListCreateView(ListAPIView):
    serializer_class = OrderSerializer
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        return selectors.orders_for_user(
            user=self.request.user,
            symbol_id=_symbol_filter(self.request),
            status=self.request.query_params.get("status") or None,
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("symbol", str, description='"BTC/USDT" or "BTC-USDT"'),
            OpenApiParameter("status", str, enum=[s for s, _ in services.Order.STATUSES]),
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=PlaceOrderSerializer,
        responses={
            201: OrderSerializer,
            200: OpenApiResponse(OrderSerializer, description="client_order_id repeated: the original order"),
            202: OpenApiResponse(OrderSerializer, description="Accepted, the matcher has not answered yet (PENDING)"),
            400: ERROR, 404: ERROR, 409: ERROR,
        },
    )
    def post(self, request: Request) -> Response:
        body = PlaceOrderSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        data["symbol"] = services.find_symbol(data["symbol"])
        order, command = services.place_order(user=request.user, request=OrderRequest(**data))
        if command is None:
            return _render_order(request, order.id, status.HTTP_200_OK)
        done = wait_for_command(command.id, settings.ORDER_RESULT_TIMEOUT)
        return _render_order(request, order.id, status.HTTP_201_CREATED if done else status.HTTP_202_ACCEPTED)


class OrderDetailView(APIView):
    @extend_schema(responses={200: OrderSerializer, 404: ERROR})
    def get(self, request: Request, order_id: int) -> Response:
        services.get_own_order(user=request.user, order_id=order_id)
        return _render_order(request, order_id, status.HTTP_200_OK)

    @extend_schema(
        responses={
            200: OrderSerializer,
            202: OpenApiResponse(OrderSerializer, description="Cancel accepted, the matcher has not answered yet"),
            404: ERROR, 409: ERROR,
        }
    )
    def delete(self, request: Request, order_id: int) -> Response:
        order, command = services.cancel_order(user=request.user, order_id=order_id)
        if not wait_for_command(command.id, settings.ORDER_RESULT_TIMEOUT):
            return _render_order(request, order.id, status.HTTP_202_ACCEPTED)
        order.refresh_from_db(fields=["status"])
        if order.status != c.CANCELLED:
            # It filled (or ended otherwise) before the cancel reached the book.
            raise services.errors.OrderNotCancellable(order_id=order.id, status=order.status)
        return _render_order(request, order.id, status.HTTP_200_OK)


class FillListView(ListAPIView):
    serializer_class = FillSerializer
    pagination_class = NewestFirstCursorPagination

    @extend_schema(parameters=[OpenApiParameter("symbol", str, description='"BTC/USDT" or "BTC-USDT"')])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.fills_for_user(user=self.request.user, symbol_id=_symbol_filter(self.request))
