"""Django's ASGI handler with the middleware stack run as one sync call.

Under ASGI, Django runs each hook of a MiddlewareMixin middleware through
sync_to_async: a hop to a worker thread and back for process_request and
again for process_response, about sixteen per request with this project's
stack, and most of the CPU time of a small request. Every middleware and
view here is sync, so this handler loads the stack in sync mode and calls it
once in the request's worker thread (thread-sensitive, so the database
connection and request_finished stay on that thread, as Django expects).

It leans on ASGIHandler's load_middleware/get_response_async, which are not
public API: Django is pinned (5.2 LTS) and tests/ops/test_asgi_http.py checks
the behaviour on every upgrade.
"""

from __future__ import annotations

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class SyncStackASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_http_application() -> SyncStackASGIHandler:
    django.setup(set_prefix=False)
    return SyncStackASGIHandler()
