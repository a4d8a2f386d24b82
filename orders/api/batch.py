"""POST /api/v1/orders/batch: cancels, then orders, in one request.

Items are parsed one by one (batch_items) so that a bad item is refused on
its own; the service judges, funds and writes them in request order.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import error_body, error_responses
from orders import services

from .batch_items import batch_items, cancel_ref, order_requests, parse_lists
from .serializers import BatchRequestSerializer, BatchResultSerializer


def _cancel_result(result) -> dict:
    body: dict = {}
    order_id = result.order.id if result.order is not None else result.ref.order_id
    if order_id is not None:
        body["order_id"] = order_id
    if result.ref.client_order_id:
        body["client_order_id"] = result.ref.client_order_id
    body.update({"error": error_body(result.error)} if result.error is not None else {"order": result.order})
    return body


def _order_result(placement) -> dict:
    return {"error": error_body(placement.error)} if placement.error is not None else {"order": placement.order}


class OrderBatchView(APIView):
    trading = True  # an API key needs TRADE to send a batch
    def orders_placed(self, request: Request) -> int:
        """Each cancel and each order counts against the order rate limits."""
        return batch_items(request)

    @extend_schema(
        request=BatchRequestSerializer,
        responses={
            201: BatchResultSerializer,
            202: OpenApiResponse(BatchResultSerializer, description="Some placed orders are PENDING: the matcher has not answered yet"),
            200: OpenApiResponse(BatchResultSerializer, description="No order was placed (cancels only, repeats, or every order refused)"),
            **error_responses(400),
        },
    )
    def post(self, request: Request) -> Response:
        cancels, orders = parse_lists(request.data)
        services.check_batch_size(cancels=len(cancels), orders=len(orders))
        batch = services.submit_batch_and_wait(
            user=request.user, cancels=[cancel_ref(item) for item in cancels], orders=order_requests(orders)
        )
        body = {
            "cancelled": [_cancel_result(result) for result in batch.cancellations],
            "orders": [_order_result(placement) for placement in batch.placements],
        }
        if not batch.placed_any:
            code = status.HTTP_200_OK
        else:
            code = status.HTTP_202_ACCEPTED if batch.outcome is services.Outcome.PENDING else status.HTTP_201_CREATED
        return Response(BatchResultSerializer(body).data, status=code)
