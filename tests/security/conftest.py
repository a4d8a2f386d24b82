"""Fixtures for the security tests (the operator and clean rate-limit counters
are shared, in tests/conftest.py)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def answer_without_waiting(settings):
    # No matcher process runs: POST/DELETE answer 202 PENDING at once.
    settings.ORDER_RESULT_TIMEOUT = 0


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


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
