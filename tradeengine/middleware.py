"""Request id and access log for every HTTP request.

The id comes from the X-Request-ID header when it is sane (a proxy or client
set it), otherwise a new one is made. It is bound to the log context, so
every log line of the request carries it, and echoed in the response header.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

import structlog
from asgiref.sync import iscoroutinefunction, markcoroutinefunction

REQUEST_ID_HEADER = "X-Request-ID"
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

access_log = logging.getLogger("tradeengine.access")


def request_id_from(request) -> str:
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    return offered if VALID_REQUEST_ID.match(offered) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Works in both modes. Under daphne, tradeengine.asgi_http runs the whole
    stack sync in the request's thread; under Django's own async handler (the
    test AsyncClient) it stays async, so no thread hop is added around it."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        started = self._begin(request)
        try:
            return self._finish(request, self.get_response(request), started)
        finally:
            structlog.contextvars.clear_contextvars()

    async def _acall(self, request):
        started = self._begin(request)
        try:
            return self._finish(request, await self.get_response(request), started)
        finally:
            structlog.contextvars.clear_contextvars()

    @staticmethod
    def _begin(request) -> float:
        structlog.contextvars.clear_contextvars()
        request.request_id = request_id_from(request)
        structlog.contextvars.bind_contextvars(request_id=request.request_id)
        return time.perf_counter()

    @staticmethod
    def _finish(request, response, started: float):
        response[REQUEST_ID_HEADER] = request.request_id
        user = getattr(request, "user", None)
        if getattr(user, "is_authenticated", False):
            structlog.contextvars.bind_contextvars(user_id=user.id)
        access_log.info(
            "%s %s %s", request.method, request.path, response.status_code,
            extra={"method": request.method, "path": request.path, "status": response.status_code,
                   "duration_ms": round((time.perf_counter() - started) * 1000, 3)},
        )
        return response
