"""One error body for every failure: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from django.db import DatabaseError, DataError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core import metrics
from core.errors import DomainError

# Field-level validation errors that have a dedicated code in the contract.
FIELD_CODES = {
    "quantity": "INVALID_QUANTITY",
    "price": "INVALID_PRICE",
    "stop_price": "INVALID_PRICE",
    "quote_order_qty": "INVALID_QUANTITY",
}

DRF_CODES = {
    exceptions.NotAuthenticated: "NOT_AUTHENTICATED",
    exceptions.AuthenticationFailed: "NOT_AUTHENTICATED",
    exceptions.PermissionDenied: "FORBIDDEN",
    exceptions.NotFound: "NOT_FOUND",
    exceptions.MethodNotAllowed: "METHOD_NOT_ALLOWED",
    exceptions.NotAcceptable: "NOT_ACCEPTABLE",
    exceptions.UnsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE",
    exceptions.Throttled: "RATE_LIMITED",
    exceptions.ParseError: "MALFORMED_REQUEST",
}


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable SNAKE_CASE code, e.g. INSUFFICIENT_BALANCE.")
    message = serializers.CharField(help_text="For people; clients match on the code.")
    details = serializers.DictField(help_text="What the code refers to, e.g. the field errors or the order id.")


class ErrorBodySerializer(serializers.Serializer):
    """The body of every 4xx and 5xx answer."""

    # error_response renders through this class and views name it in their
    # schema: the documented error body is the one sent.
    error = ErrorSerializer()


def error_responses(*statuses: int) -> dict[int, type[ErrorBodySerializer]]:
    """For @extend_schema(responses=...): these statuses answer the error body."""
    return {http_status: ErrorBodySerializer for http_status in statuses}


def error_response(code: str, message: str, http_status: int, details: dict | None = None, headers=None) -> Response:
    error = {"code": code, "message": message, "details": details or {}}
    return Response(ErrorBodySerializer({"error": error}).data, status=http_status, headers=headers)


class InvalidItem(DomainError):
    """One item of a batch failed validation: the body it would have had
    as a request of its own."""

    def __init__(self, detail) -> None:
        super().__init__("The item is invalid.", **(detail if isinstance(detail, dict) else {"non_field_errors": detail}))
        self.code = _validation_code(detail)


def error_body(exc: DomainError) -> dict:
    """{code, message, details} of a refused item (inside a 2xx answer)."""
    return {"code": exc.code, "message": exc.message, "details": exc.details}


def _validation_code(detail) -> str:
    if isinstance(detail, dict):
        for field, code in FIELD_CODES.items():
            if field in detail:
                return code
    return "VALIDATION_ERROR"


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        metrics.count_rejected_request(exc, context)
        return error_response(exc.code, exc.message, exc.status, exc.details)
    if isinstance(exc, DataError):
        # A value PostgreSQL cannot take (a NUL byte, an out-of-range number)
        # is the client's mistake, not an outage.
        return error_response("VALIDATION_ERROR", "The request holds a value that cannot be stored.", 400)
    if isinstance(exc, DatabaseError):
        return error_response("SERVICE_UNAVAILABLE", "The database is unavailable; try again shortly.", 503)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return error_response(_validation_code(exc.detail), "The request is invalid.", status.HTTP_400_BAD_REQUEST, details)
    code = next((c for cls, c in DRF_CODES.items() if isinstance(exc, cls)), "ERROR")
    message = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else "Request failed."
    headers = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(int(exc.wait + 0.999))
    if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return error_response(code, message, status.HTTP_401_UNAUTHORIZED, headers=headers)
    details = exc.detail if isinstance(exc.detail, dict) else {}
    return error_response(code, message, response.status_code, details, headers=headers)
