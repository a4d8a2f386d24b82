"""The HTTP side of the ASGI application: Django's stack runs as one sync
call per request (see tradeengine/asgi_http.py)."""

from __future__ import annotations

import pytest
from asgiref.sync import iscoroutinefunction

from tests.support.asgi import asgi_request
from tradeengine.asgi_http import SyncStackASGIHandler


def asgi_get(path: str, headers: list[tuple[bytes, bytes]] = ()) -> tuple[int, dict[bytes, bytes], bytes]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }

    return asgi_request(scope)


def test_the_middleware_stack_is_loaded_as_one_sync_callable():
    handler = SyncStackASGIHandler()
    assert not iscoroutinefunction(handler._middleware_chain)


@pytest.mark.django_db(transaction=True)
def test_requests_through_the_asgi_application_pass_every_middleware_and_reach_the_database():
    status, headers, body = asgi_get("/readyz", [(b"x-request-id", b"asgi-ready-1")])
    assert status == 200, body
    assert headers[b"X-Request-ID"] == b"asgi-ready-1"
    assert headers[b"X-Frame-Options"] == b"DENY"  # the clickjacking middleware ran too

    status, _, body = asgi_get("/api/v1/account")
    assert status == 401 and b"NOT_AUTHENTICATED" in body
