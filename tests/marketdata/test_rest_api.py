"""GET /api/v1/orderbook, /trades, /ticker, /candles and the operators'
WebSocket statistics."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from orders.models import Trade
from tests.conftest import client_for
from tests.factories import make_user, place
from tests.support.matcher import process


def make_market(symbol, alice, bob):
    """Two bids, one ask, and one trade of 0.5 at 50000."""
    place(alice, symbol, "BUY", "1", "49000.00")
    place(alice, symbol, "BUY", "2", "49000.00")
    place(alice, symbol, "BUY", "1", "48000.00")
    place(bob, symbol, "SELL", "0.5", "50000.00")
    place(alice, symbol, "BUY", "0.5", "50000.00")
    place(bob, symbol, "SELL", "1.5", "51000.00")
    process(symbol)


def test_order_book_is_served_from_the_matchers_snapshot(symbol, alice, bob, inline_publisher):
    make_market(symbol, alice, bob)

    response = APIClient().get("/api/v1/orderbook/BTC-USDT?depth=1")

    assert response.status_code == 200
    body = response.json()
    assert body["symbol"] == "BTC/USDT"
    assert body["sequence"] == 6
    assert body["bids"] == [["49000.00", "3.000"]]
    assert body["asks"] == [["51000.00", "1.500"]]


def test_order_book_falls_back_to_the_database_without_a_snapshot(symbol, alice, bob, settings):
    settings.MARKETDATA_PUBLISH = False
    make_market(symbol, alice, bob)

    body = APIClient().get("/api/v1/orderbook/BTC%2FUSDT").json()

    assert body == {
        "symbol": "BTC/USDT",
        "sequence": 6,
        "bids": [["49000.00", "3.000"], ["48000.00", "1.000"]],
        "asks": [["51000.00", "1.500"]],
    }


def test_order_book_of_an_unknown_symbol_is_404(db):
    response = APIClient().get("/api/v1/orderbook/NOPE-USDT")

    assert (response.status_code, response.json()["error"]["code"]) == (404, "UNKNOWN_SYMBOL")


def test_order_book_depth_is_validated(symbol):
    response = APIClient().get("/api/v1/orderbook/BTC-USDT?depth=0")

    assert (response.status_code, response.json()["error"]["code"]) == (400, "VALIDATION_ERROR")


def test_trades_are_listed_newest_first(symbol, alice, bob, inline_publisher):
    make_market(symbol, alice, bob)
    place(bob, symbol, "SELL", "1", "49000.00")
    process(symbol)

    trades = APIClient().get("/api/v1/trades/BTC-USDT?limit=10").json()

    assert [(t["price"], t["quantity"], t["taker_side"]) for t in trades] == [
        ("49000.00", "1.000", "SELL"),
        ("50000.00", "0.500", "BUY"),
    ]
    assert set(trades[0]) == {"id", "price", "quantity", "taker_side", "executed_at"}
    assert len(APIClient().get("/api/v1/trades/BTC-USDT?limit=1").json()) == 1


def test_ticker_covers_the_last_24_hours(symbol, alice, bob, inline_publisher):
    make_market(symbol, alice, bob)
    place(bob, symbol, "SELL", "1", "49000.00")
    process(symbol)
    # A trade older than 24 hours does not count.
    old = Trade.objects.order_by("id").first()
    Trade.objects.filter(id=old.id).update(executed_at=timezone.now() - timedelta(hours=25))
    place(alice, symbol, "BUY", "1", "51000.00")
    process(symbol)

    ticker = APIClient().get("/api/v1/ticker/BTC-USDT").json()

    assert ticker == {
        "symbol": "BTC/USDT",
        "last_price": "51000.00",
        "best_bid": "49000.00",
        "best_ask": "51000.00",
        "open_24h": "49000.00",
        "high_24h": "51000.00",
        "low_24h": "49000.00",
        "volume_24h": "2",
        "quote_volume_24h": "100000",
        "change_24h_percent": "4.08",
    }


def test_ticker_without_trades_has_no_prices(symbol):
    ticker = APIClient().get("/api/v1/ticker/BTC-USDT").json()

    assert (ticker["last_price"], ticker["open_24h"], ticker["volume_24h"], ticker["change_24h_percent"]) == (
        None, None, "0", None,
    )


def test_candles_aggregate_trades_per_interval(symbol, alice, bob, inline_publisher):
    make_market(symbol, alice, bob)
    place(bob, symbol, "SELL", "1", "49000.00")
    process(symbol)
    place(alice, symbol, "BUY", "1", "51000.00")
    process(symbol)
    minute = timezone.now().replace(second=0, microsecond=0)
    first = Trade.objects.order_by("id").first()
    Trade.objects.filter(id=first.id).update(executed_at=minute - timedelta(minutes=3, seconds=-5))
    Trade.objects.exclude(id=first.id).update(executed_at=minute + timedelta(seconds=1))

    one_minute = APIClient().get("/api/v1/candles/BTC-USDT?interval=1m").json()
    five_minutes = APIClient().get("/api/v1/candles/BTC-USDT", {"interval": "1h"}).json()

    assert [(c["open"], c["high"], c["low"], c["close"], c["volume"]) for c in one_minute] == [
        ("50000.00", "50000.00", "50000.00", "50000.00", "0.5"),
        ("49000.00", "51000.00", "49000.00", "51000.00", "2"),
    ]
    assert one_minute[1]["open_time"] == minute.isoformat().replace("+00:00", "Z")
    assert len(five_minutes) in (1, 2)  # the hour may turn between the two trades
    assert sum(float(c["volume"]) for c in five_minutes) == 2.5


def test_candles_honour_start_end_and_limit(symbol, alice, bob, inline_publisher):
    make_market(symbol, alice, bob)
    now_ms = int(timezone.now().timestamp() * 1000)

    assert APIClient().get(f"/api/v1/candles/BTC-USDT?interval=1m&end={now_ms - 120_000}").json() == []
    assert len(APIClient().get(f"/api/v1/candles/BTC-USDT?interval=1d&start={now_ms - 86_400_000}&limit=1").json()) == 1
    bad = APIClient().get("/api/v1/candles/BTC-USDT?interval=2m")
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "VALIDATION_ERROR")


def test_websocket_statistics_are_for_staff_only(db):
    trader = client_for(make_user())
    operator = client_for(make_user(is_staff=True))

    assert trader.get("/api/v1/admin/websocket/connections").status_code == 403
    assert APIClient().get("/api/v1/admin/websocket/connections").status_code == 401
    body = operator.get("/api/v1/admin/websocket/connections").json()
    assert body["connections"] == 0 and body["subscriptions"] == {}


def test_market_data_endpoints_are_in_the_schema(db):
    schema = APIClient().get("/api/schema/?format=json").json()

    for path in ("orderbook", "trades", "ticker", "candles"):
        assert f"/api/v1/{path}/{{symbol}}" in schema["paths"]
    assert "/api/v1/admin/websocket/connections" in schema["paths"]
