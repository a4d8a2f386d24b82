"""Under ASGI (daphne) the request target is signed as the client sent it:
percent-escapes in the path stay as they were on the wire."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from django.db import connection

from tests.factories import place
from tests.support.asgi import asgi_request

from .conftest import make_key, now_ms, sign

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def requests_close_their_connections(monkeypatch):
    # Each request runs in a thread of its own here: a connection kept for
    # reuse would outlive the test and its database.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)


def signed_asgi_get(created, raw_target: str, signed_target: str) -> tuple[int, bytes]:
    stamp = str(now_ms())
    path, _, query = raw_target.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": unquote(path), "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        "headers": [
            (b"host", b"testserver"),
            (b"x-api-key", created.key.api_key.encode()),
            (b"x-api-timestamp", stamp.encode()),
            (b"x-api-signature", sign(created.secret, f"{stamp}GET{signed_target}".encode()).encode()),
        ],
    }

    status, _, body = asgi_request(scope)
    return status, body


def test_the_target_as_sent_and_as_rebuilt_both_verify(symbol, alice):
    order = place(alice, symbol, "BUY", "1", "99.00", client_order_id="grid:1")
    created = make_key(alice, ["READ"])
    target = "/api/v1/orders/by-client-id/grid%3A1?x=%2F"

    as_sent = signed_asgi_get(created, target, target)
    rebuilt = signed_asgi_get(created, target, "/api/v1/orders/by-client-id/grid:1?x=%2F")
    other = signed_asgi_get(created, target, "/api/v1/orders/by-client-id/grid:2?x=%2F")

    assert as_sent[0] == 200, as_sent[1]
    assert f'"id":{order.id}'.encode() in as_sent[1]
    assert rebuilt[0] == 200
    assert other[0] == 401 and b"INVALID_SIGNATURE" in other[1]

