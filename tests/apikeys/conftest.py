"""API key fixtures: keys made through the service, and a client that signs
its requests the way the docs tell API users to (docs/api.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from rest_framework.test import APIClient

from apikeys import services


@pytest.fixture(autouse=True)
def answer_without_waiting(settings):
    # No matcher runs unless a test asks for one: order writes answer 202 PENDING at once.
    settings.ORDER_RESULT_TIMEOUT = 0


def now_ms() -> int:
    return int(time.time() * 1000)


def sign(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class SignedClient:
    """Sends requests signed with an API key: X-API-SIGNATURE = hex
    HMAC-SHA256(secret, timestamp + METHOD + path and query + raw body)."""

    def __init__(self, api_key: str, secret: str, **extra) -> None:
        self.api_key, self.secret, self.extra = api_key, secret, extra
        self.client = APIClient()

    def request(self, method: str, target: str, data=None, *, timestamp: int | str | None = None, secret: str | None = None, **extra):
        body = b"" if data is None else json.dumps(data).encode()
        stamp = str(now_ms() if timestamp is None else timestamp)
        signature = sign(secret or self.secret, stamp.encode() + method.encode() + target.encode() + body)
        headers = {"X-API-KEY": self.api_key, "X-API-TIMESTAMP": stamp, "X-API-SIGNATURE": signature}
        return self.client.generic(method, target, body, content_type="application/json", headers=headers,
                                   **{**self.extra, **extra})

    def get(self, target: str, **kwargs):
        return self.request("GET", target, **kwargs)

    def post(self, target: str, data, **kwargs):
        return self.request("POST", target, data, **kwargs)

    def delete(self, target: str, **kwargs):
        return self.request("DELETE", target, **kwargs)


def make_key(user, permissions=("READ", "TRADE"), **fields) -> services.CreatedKey:
    return services.create_key(user=user, permissions=permissions, **fields)


def signed_client(created: services.CreatedKey, **extra) -> SignedClient:
    return SignedClient(created.key.api_key, created.secret, **extra)


@pytest.fixture
def trade_key(alice) -> services.CreatedKey:
    return make_key(alice, ["READ", "TRADE"], label="bot")


@pytest.fixture
def read_key(alice) -> services.CreatedKey:
    return make_key(alice, ["READ"], label="watcher")


@pytest.fixture
def trade_api(trade_key) -> SignedClient:
    return signed_client(trade_key)


@pytest.fixture
def read_api(read_key) -> SignedClient:
    return signed_client(read_key)


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()
