"""Trader endpoints: account, orders and fills. Views parse, call one
service or selector, and render."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_responses
from core.api.pagination import NewestFirstCursorPagination
from orders import selectors, services
from orders.services import Outcome
from orders.validation import OrderRequest
from riskadmin.selectors import find_symbol

from .serializers import (
    AccountSerializer,
    AmendOrderSerializer,
    CancelledOrdersSerializer,
    FillSerializer,
    OrderSerializer,
    PlaceOrderSerializer,
)


class AccountView(APIView):
    @extend_schema(responses=AccountSerializer)
    def get(self, request: Request) -> Response:
        return Response(AccountSerializer(request.user).data)


PLACED_STATUS = {Outcome.REPEATED: status.HTTP_200_OK, Outcome.APPLIED: status.HTTP_201_CREATED, Outcome.PENDING: status.HTTP_202_ACCEPTED}
AMEND_RESPONSES = {
    200: OrderSerializer,
    202: OpenApiResponse(OrderSerializer, description="Amend accepted, the matcher has not answered yet"),
    **error_responses(400, 404, 409),
}
CANCELLED_STATUS = {Outcome.APPLIED: status.HTTP_200_OK, Outcome.PENDING: status.HTTP_202_ACCEPTED}


def _symbol_filter(request: Request) -> int | None:
    name = request.query_params.get("symbol")
    return find_symbol(name).id if name else None


class OrderListCreateView(ListAPIView):
    trading = True  # an API key needs TRADE to place, amend or cancel here
    serializer_class = OrderSerializer
    pagination_class = NewestFirstCursorPagination

    def orders_placed(self, request: Request) -> int:
        """What a POST counts against the order rate limits."""
        return 1

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
            **error_responses(400, 404, 409),
        },
    )
    def post(self, request: Request) -> Response:
        body = PlaceOrderSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        data["symbol"] = find_symbol(data["symbol"])
        order, outcome = services.place_order_and_wait(user=request.user, request=OrderRequest(**data))
        return Response(OrderSerializer(order).data, status=PLACED_STATUS[outcome])

    @extend_schema(
        parameters=[OpenApiParameter("symbol", str, description='Only this symbol ("BTC/USDT" or "BTC-USDT"); all when absent')],
        responses={
            200: CancelledOrdersSerializer,
            202: OpenApiResponse(CancelledOrdersSerializer, description="Cancels accepted, the matcher has not answered for all yet"),
            **error_responses(404),
        },
    )
    def delete(self, request: Request) -> Response:
        orders, outcome = services.cancel_own_orders_and_wait(user=request.user, symbol_id=_symbol_filter(request))
        return Response(CancelledOrdersSerializer({"cancelled": orders}).data, status=CANCELLED_STATUS[outcome])


class OrderDetailView(APIView):
    trading = True  # an API key needs TRADE to place, amend or cancel here
    @extend_schema(responses={200: OrderSerializer, **error_responses(404)})
    def get(self, request: Request, order_id: int) -> Response:
        return Response(OrderSerializer(selectors.own_order(user=request.user, order_id=order_id)).data)

    @extend_schema(
        responses={
            200: OrderSerializer,
            202: OpenApiResponse(OrderSerializer, description="Cancel accepted, the matcher has not answered yet"),
            **error_responses(404, 409),
        }
    )
    def delete(self, request: Request, order_id: int) -> Response:
        return _cancel(request, order_id=order_id)

    @extend_schema(request=AmendOrderSerializer, responses=AMEND_RESPONSES)
    def patch(self, request: Request, order_id: int) -> Response:
        return _amend(request, order_id=order_id)


def _cancel(request: Request, **which) -> Response:
    order, outcome = services.cancel_order_and_wait(user=request.user, **which)
    return Response(OrderSerializer(order).data, status=CANCELLED_STATUS[outcome])


def _amend(request: Request, **which) -> Response:
    body = AmendOrderSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    order, outcome = services.amend_order_and_wait(user=request.user, **which, **body.validated_data)
    return Response(OrderSerializer(order).data, status=CANCELLED_STATUS[outcome])


class OrderByClientIdView(APIView):
    trading = True  # an API key needs TRADE to place, amend or cancel here
    @extend_schema(responses={200: OrderSerializer, **error_responses(404)})
    def get(self, request: Request, client_order_id: str) -> Response:
        order = selectors.own_order_by_client_id(user=request.user, client_order_id=client_order_id)
        return Response(OrderSerializer(order).data)

    @extend_schema(
        responses={
            200: OrderSerializer,
            202: OpenApiResponse(OrderSerializer, description="Cancel accepted, the matcher has not answered yet"),
            **error_responses(404, 409),
        }
    )
    def delete(self, request: Request, client_order_id: str) -> Response:
        return _cancel(request, client_order_id=client_order_id)

    @extend_schema(request=AmendOrderSerializer, responses=AMEND_RESPONSES)
    def patch(self, request: Request, client_order_id: str) -> Response:
        return _amend(request, client_order_id=client_order_id)


class FillListView(ListAPIView):
    serializer_class = FillSerializer
    pagination_class = NewestFirstCursorPagination

    @extend_schema(parameters=[OpenApiParameter("symbol", str, description='"BTC/USDT" or "BTC-USDT"')])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.fills_for_user(user=self.request.user, symbol_id=_symbol_filter(self.request))
