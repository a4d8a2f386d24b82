"""Fixtures for the security tests: a market, traders, an operator, clean rate-limit counters."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from tests.conftest import client_for
from tests.factories import make_user
from tradeengine.redis import get_redis


@pytest.fixture(autouse=True)
def answer_without_waiting(settings):
    # No matcher process runs: POST/DELETE answer 202 PENDING at once.
    settings.ORDER_RESULT_TIMEOUT = 0


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


@pytest.fixture
def operator(db):
    return make_user("operator", is_staff=True)


@pytest.fixture
def operator_api(operator) -> APIClient:
    return client_for(operator)


@pytest.fixture
def clean_rate_limits(db):
    """Forget the counters of earlier runs (user ids repeat between runs)."""
    client = get_redis()
    pattern = f"ratelimit:{connection.settings_dict['NAME']}:*"
    for key in client.scan_iter(match=pattern, count=500):
        client.delete(key)
    yield
    for key in client.scan_iter(match=pattern, count=500):
        client.delete(key)


def error_code(response) -> str:
    return response.json()["error"]["code"]


def assert_error_body(response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "details"} <= set(body["error"])
    if code is not None:
        assert body["error"]["code"] == code
