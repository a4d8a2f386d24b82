"""What every view of the Binance-compatible API shares: Binance's error
body, a request weight counted in the per-IP rate limit (the project's
limiter, tradeengine.throttling, reads `request_weight`), and the weight
used so far in the X-MBX-USED-WEIGHT-1M header.

Public market data views derive from PublicView; views that need an API
key or a signature derive from BinanceView with their own authentication."""

from __future__ import annotations

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from . import errors, limits


class BinanceView(APIView):
    weight = 1
    # Binance's documented paths and shapes, not described in our OpenAPI schema.
    schema = None

    def request_weight(self, request: Request) -> int:
        """The request's weight; views whose weight depends on their
        parameters override this (it runs before the parameters are checked)."""
        return self.weight

    def get_exception_handler(self):
        return errors.exception_handler

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        usage = getattr(request, "rate_limit_usage", {}).get("ip")
        if usage is not None:
            used, window = usage
            response[limits.weight_header(window)] = str(used)
        return response


class PublicView(BinanceView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
