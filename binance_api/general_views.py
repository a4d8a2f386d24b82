"""GET /api/v3/ping, /time and /exchangeInfo."""

from __future__ import annotations

import time

from rest_framework.request import Request
from rest_framework.response import Response

from . import errors, limits, params
from .base import PublicView
from .exchange_info import STATUSES, symbol_info, symbol_status


class PingView(PublicView):
    def get(self, request: Request) -> Response:
        return Response({})


class TimeView(PublicView):
    def get(self, request: Request) -> Response:
        return Response({"serverTime": time.time_ns() // 1_000_000})


class ExchangeInfoView(PublicView):
    weight = 20

    def get(self, request: Request) -> Response:
        query = request.query_params
        status = params.text(query, "symbolStatus")
        if status is not None and status not in (*STATUSES.values(), "BREAK"):
            raise errors.illegal_characters("symbolStatus", "TRADING, HALT, BREAK")
        if status is not None and (query.get("symbol") or query.get("symbols")):
            raise errors.bad_combination()
        found, _ = params.selected_symbols(query)
        permission_sets = params.text(query, "showPermissionSets") != "false"
        return Response({
            "timezone": "UTC",
            "serverTime": time.time_ns() // 1_000_000,
            "rateLimits": limits.rate_limits(),
            "exchangeFilters": [],
            "symbols": [symbol_info(s, permission_sets=permission_sets) for s in found
                        if status is None or symbol_status(s) == status],
        })
