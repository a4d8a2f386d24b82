"""Binance's error body, {"code": -1121, "msg": "Invalid symbol."}, for the
views of this app only (the native API keeps its own format). Codes and
texts are Binance's: clients map exceptions on them."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from core.rates import parse_rate
from riskadmin.errors import UnknownSymbol

from . import limits

log = logging.getLogger(__name__)

UNKNOWN = -1000
DISCONNECTED = -1001
TOO_MANY_REQUESTS = -1003
ILLEGAL_CHARS = -1100
TOO_MANY_PARAMETERS = -1101
MANDATORY_PARAM = -1102
PARAM_EMPTY = -1105
BAD_INTERVAL = -1120
BAD_SYMBOL = -1121
BAD_COMBINATION = -1128
INVALID_PARAMETER = -1130


class BinanceError(Exception):
    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


def illegal_characters(param: str, legal: str) -> BinanceError:
    return BinanceError(ILLEGAL_CHARS, f"Illegal characters found in parameter '{param}'; legal range is '{legal}'.")


def duplicate(param: str) -> BinanceError:
    return BinanceError(TOO_MANY_PARAMETERS, "Duplicate values for a parameter detected.")


def mandatory(param: str) -> BinanceError:
    return BinanceError(MANDATORY_PARAM, f"Mandatory parameter '{param}' was not sent, was empty/null, or malformed.")


def empty(param: str) -> BinanceError:
    return BinanceError(PARAM_EMPTY, f"Parameter '{param}' was empty.")


def invalid_symbol() -> BinanceError:
    return BinanceError(BAD_SYMBOL, "Invalid symbol.")


def invalid_interval() -> BinanceError:
    return BinanceError(BAD_INTERVAL, "Invalid interval.")


def bad_combination() -> BinanceError:
    return BinanceError(BAD_COMBINATION, "Combination of optional parameters invalid.")


def invalid_parameter() -> BinanceError:
    return BinanceError(INVALID_PARAMETER, "Invalid data sent for a parameter.")


def body(code: int, msg: str, status: int, headers: dict | None = None) -> Response:
    return Response({"code": code, "msg": msg}, status=status, headers=headers)


def _too_many_requests(exc: exceptions.Throttled) -> Response:
    headers = {"Retry-After": str(int((exc.wait or 1) + 0.999))}
    rate = parse_rate(settings.RATE_LIMITS.get("ip"))
    if rate is None:  # another bucket than the per-IP weight refused
        return body(TOO_MANY_REQUESTS, "Too many requests queued.", 429, headers)
    limit, window = rate
    count, interval = limits.interval(window)
    msg = (f"Too much request weight used; current limit is {limit} request weight per {count} {interval}. "
           "Please use WebSocket Streams for live updates to avoid polling the API.")
    return body(TOO_MANY_REQUESTS, msg, 429, headers)


def exception_handler(exc, context) -> Response | None:
    if isinstance(exc, BinanceError):
        return body(exc.code, exc.msg, exc.status)
    if isinstance(exc, UnknownSymbol):
        return body(BAD_SYMBOL, "Invalid symbol.", 400)
    if isinstance(exc, exceptions.Throttled):
        return _too_many_requests(exc)
    if isinstance(exc, DatabaseError):
        log.warning("database unavailable on the Binance-compatible API: %s", exc)
        return body(DISCONNECTED, "Internal error; unable to process your request. Please try again.", 503)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, exceptions.APIException):
        return body(UNKNOWN, "An unknown error occurred while processing the request.", exc.status_code)
    return None
