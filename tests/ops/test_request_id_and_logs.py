"""Request ids on every response, and JSON log lines that carry them."""

from __future__ import annotations

import json
import logging

import structlog

from tradeengine.logconfig import logging_config


def test_a_request_id_is_made_when_none_is_sent(alice_api):
    response = alice_api.get("/api/v1/account")
    assert len(response["X-Request-ID"]) == 32


def test_the_callers_request_id_is_echoed(alice_api):
    response = alice_api.get("/api/v1/account", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"


def test_a_malformed_request_id_is_replaced(db, client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline"
    assert len(response["X-Request-ID"]) == 32


def _formatter(log_format: str) -> logging.Formatter:
    spec = logging_config(log_format=log_format, level="INFO")["formatters"]["structured"]
    factory = spec.pop("()")
    return factory(**spec)


def test_json_log_lines_carry_the_bound_context_and_extra_fields():
    structlog.contextvars.bind_contextvars(request_id="rid-1", user_id=7, order_id=42)
    try:
        record = logging.LogRecord("orders", logging.INFO, __file__, 1, "placed %s", ("x",), None)
        record.symbol = "BTC/USDT"
        line = json.loads(_formatter("json").format(record))
    finally:
        structlog.contextvars.clear_contextvars()
    assert line["event"] == "placed x"
    assert (line["request_id"], line["user_id"], line["order_id"]) == ("rid-1", 7, 42)
    assert (line["level"], line["logger"], line["symbol"]) == ("info", "orders", "BTC/USDT")
    assert "timestamp" in line


def test_console_format_is_readable_text():
    record = logging.LogRecord("orders", logging.INFO, __file__, 1, "hello", (), None)
    text = _formatter("console").format(record)
    assert "hello" in text and not text.startswith("{")


def test_under_asgi_the_request_id_is_echoed_and_the_middleware_stays_async():
    from asgiref.sync import async_to_sync, iscoroutinefunction
    from django.http import HttpResponse
    from django.test import AsyncClient

    from tradeengine.middleware import RequestIdMiddleware

    response = async_to_sync(AsyncClient().get)("/healthz", headers={"X-Request-ID": "asgi-1"})
    assert (response.status_code, response["X-Request-ID"]) == (200, "asgi-1")

    # Given an async handler it is a coroutine function itself, so Django
    # needs no thread hop around it.
    async def handler(request):
        return HttpResponse("ok")

    middleware = RequestIdMiddleware(handler)
    assert iscoroutinefunction(middleware)
    assert not iscoroutinefunction(RequestIdMiddleware(lambda request: HttpResponse("ok")))
