"""Fixtures of the Binance-compatible API tests: the market-data ones (a
private channel layer, no leftover snapshots, an inline publisher) and a
small market."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from tests.marketdata.conftest import clean_market_keys, inline_publisher, private_channel_layer  # noqa: F401
from tests.marketdata.test_rest_api import make_market


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def market(symbol, alice, bob, inline_publisher):  # noqa: F811
    """Bids 3 @ 49000 and 1 @ 48000, an ask 1.5 @ 51000, one trade 0.5 @ 50000."""
    make_market(symbol, alice, bob)
    symbol.refresh_from_db()
    return symbol


def decimals(levels) -> list[list[Decimal]]:
    return [[Decimal(v) for v in level] for level in levels]


def assert_binance_error(response, status: int, code: int, msg: str | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == {"code", "msg"}
    assert body["code"] == code
    if msg is not None:
        assert body["msg"] == msg
