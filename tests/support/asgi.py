"""One HTTP request through the project's ASGI application, in process, as
daphne would hand it over."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator

from tradeengine.asgi import application


def asgi_request(scope: dict, body: bytes = b"") -> tuple[int, dict[bytes, bytes], bytes]:
    """Send `scope` (an http scope) with `body`; returns (status, headers, body)
    once the request has finished (its database connection closed)."""

    async def run():
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
        start = await communicator.receive_output(timeout=10)
        received = b""
        while True:
            message = await communicator.receive_output(timeout=10)
            received += message.get("body", b"")
            if not message.get("more_body"):
                break
        await communicator.wait(timeout=10)
        return start["status"], dict(start["headers"]), received

    return async_to_sync(run)()
