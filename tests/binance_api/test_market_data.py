"""The public market data of /api/v3 is the same data /api/v1 serves, in
Binance's shapes: depth, trades, aggTrades, klines, avgPrice, tickers."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from orders.models import Trade
from tests.factories import make_symbol, place
from tests.support.matcher import process

from .conftest import assert_binance_error, decimals


def millis(iso: str) -> int:
    moment = datetime.fromisoformat(iso)
    return int(moment.replace(microsecond=0).timestamp()) * 1000 + moment.microsecond // 1000


def test_depth_is_the_native_order_book(market, api):
    native = api.get("/api/v1/orderbook/BTC-USDT").json()

    body = api.get("/api/v3/depth?symbol=BTCUSDT").json()

    assert set(body) == {"lastUpdateId", "bids", "asks"}
    assert body["lastUpdateId"] == native["sequence"] == 6
    assert decimals(body["bids"]) == decimals(native["bids"])
    assert decimals(body["asks"]) == decimals(native["asks"])
    assert body["bids"][0] == ["49000.00000000", "3.00000000"]


def test_depth_limit_cuts_the_levels(market, api):
    body = api.get("/api/v3/depth?symbol=BTCUSDT&limit=1").json()

    assert (len(body["bids"]), len(body["asks"])) == (1, 1)


def test_depth_beyond_the_snapshot_is_read_from_the_database(symbol, alice, api, inline_publisher, monkeypatch):
    monkeypatch.setattr("marketdata.selectors.MAX_DEPTH", 2)  # the snapshot's size
    for price in ("100.00", "99.00", "98.00"):
        place(alice, symbol, "BUY", "1", price)
    process(symbol)

    body = api.get("/api/v3/depth?symbol=BTCUSDT&limit=5000").json()

    assert [level[0] for level in body["bids"]] == ["100.00000000", "99.00000000", "98.00000000"]


def test_trades_are_the_native_trades_oldest_first(market, alice, bob, api):
    place(bob, market, "SELL", "1", "49000.00")
    process(market)
    native = api.get("/api/v1/trades/BTC-USDT").json()

    body = api.get("/api/v3/trades?symbol=BTCUSDT").json()

    assert [t["id"] for t in body] == [t["id"] for t in reversed(native)]
    newest, native_newest = body[-1], native[0]
    assert set(newest) == {"id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"}
    assert (newest["price"], newest["qty"], newest["quoteQty"]) == ("49000.00000000", "1.00000000", "49000.00000000")
    assert newest["time"] == millis(native_newest["executed_at"])
    assert newest["isBuyerMaker"] is True  # the taker sold
    assert body[0]["isBuyerMaker"] is False
    assert [t["id"] for t in api.get("/api/v3/trades?symbol=BTCUSDT&limit=1").json()] == [newest["id"]]


def test_historical_trades_start_from_an_id(market, bob, api):
    place(bob, market, "SELL", "1", "49000.00")
    place(bob, market, "SELL", "1", "48000.00")
    process(market)
    ids = list(Trade.objects.filter(symbol=market).order_by("sequence").values_list("id", flat=True))

    body = api.get(f"/api/v3/historicalTrades?symbol=BTCUSDT&fromId={ids[1]}&limit=1").json()

    assert [t["id"] for t in body] == [ids[1]]
    assert [t["id"] for t in api.get(f"/api/v3/historicalTrades?symbol=BTCUSDT&fromId={ids[1]}").json()] == ids[1:]


def test_agg_trades_are_one_aggregate_per_trade(market, bob, api):
    place(bob, market, "SELL", "1", "49000.00")
    process(market)
    trades = api.get("/api/v3/trades?symbol=BTCUSDT").json()

    body = api.get("/api/v3/aggTrades?symbol=BTCUSDT").json()

    assert body == [
        {"a": t["id"], "p": t["price"], "q": t["qty"], "f": t["id"], "l": t["id"], "T": t["time"],
         "m": t["isBuyerMaker"], "M": True}
        for t in trades
    ]
    first = trades[0]
    assert [a["a"] for a in api.get(f"/api/v3/aggTrades?symbol=BTCUSDT&fromId={trades[1]['id']}").json()] == [trades[1]["id"]]
    window = f"startTime={first['time']}&endTime={first['time']}"
    assert [a["a"] for a in api.get(f"/api/v3/aggTrades?symbol=BTCUSDT&{window}").json()] == [first["id"]]


def test_klines_are_the_native_candles_as_binance_arrays(market, bob, api):
    place(bob, market, "SELL", "1", "49000.00")
    process(market)
    [native] = api.get("/api/v1/candles/BTC-USDT?interval=1h").json()

    [kline] = api.get("/api/v3/klines?symbol=BTCUSDT&interval=1h").json()

    opened = millis(native["open_time"])
    assert kline == [
        opened, "50000.00000000", "50000.00000000", "49000.00000000", "49000.00000000", "1.50000000",
        opened + 3600_000 - 1, "74000.00000000", 2, "0.50000000", "25000.00000000", "0",
    ]
    assert [Decimal(v) for v in kline[1:6]] == [Decimal(native[k]) for k in ("open", "high", "low", "close", "volume")]
    assert Decimal(kline[7]) == Decimal(native["quote_volume"])


def test_klines_from_a_start_time_and_through_an_end_time(market, api):
    [kline] = api.get("/api/v3/klines?symbol=BTCUSDT&interval=1m").json()
    opened = kline[0]

    assert api.get(f"/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime={opened}").json() == [kline]
    assert api.get(f"/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime={opened + 1}").json() == []
    assert api.get(f"/api/v3/klines?symbol=BTCUSDT&interval=1m&endTime={opened}").json() == [kline]
    assert api.get(f"/api/v3/klines?symbol=BTCUSDT&interval=1m&endTime={opened - 1}").json() == []


def test_klines_need_a_known_interval(market, api):
    assert_binance_error(api.get("/api/v3/klines?symbol=BTCUSDT&interval=3m"), 400, -1120, "Invalid interval.")
    assert_binance_error(
        api.get("/api/v3/klines?symbol=BTCUSDT"), 400, -1102,
        "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.",
    )


def test_avg_price_weighs_the_last_five_minutes(market, bob, api):
    place(bob, market, "SELL", "1.5", "49000.00")
    process(market)

    body = api.get("/api/v3/avgPrice?symbol=BTCUSDT").json()

    # (0.5 * 50000 + 1.5 * 49000) / 2
    assert body["mins"] == 5
    assert body["price"] == "49250.00000000"
    assert body["closeTime"] == api.get("/api/v3/trades?symbol=BTCUSDT").json()[-1]["time"]


def test_ticker_24hr_is_the_native_ticker(market, bob, api):
    place(bob, market, "SELL", "1", "49000.00")
    process(market)
    native = api.get("/api/v1/ticker/BTC-USDT").json()
    trades = api.get("/api/v3/trades?symbol=BTCUSDT").json()

    body = api.get("/api/v3/ticker/24hr?symbol=BTCUSDT").json()

    assert body["symbol"] == "BTCUSDT"
    pairs = {"lastPrice": "last_price", "openPrice": "open_24h", "highPrice": "high_24h", "lowPrice": "low_24h",
             "volume": "volume_24h", "quoteVolume": "quote_volume_24h", "bidPrice": "best_bid", "askPrice": "best_ask"}
    assert {k: Decimal(body[k]) for k in pairs} == {k: Decimal(native[v]) for k, v in pairs.items()}
    assert (body["priceChange"], body["priceChangePercent"]) == ("-1000.00000000", "-2.000")
    assert Decimal(body["priceChangePercent"]) == Decimal(native["change_24h_percent"])
    assert body["weightedAvgPrice"] == "49333.33333333"  # 74000 / 1.5
    assert (body["bidQty"], body["askQty"], body["lastQty"]) == ("2.00000000", "1.50000000", "1.00000000")
    assert (body["firstId"], body["lastId"], body["count"]) == (trades[0]["id"], trades[-1]["id"], 2)
    assert body["closeTime"] - body["openTime"] == 24 * 3600 * 1000
    assert body["prevClosePrice"] == "0.00000000"  # no trade before the window


def test_ticker_24hr_of_every_symbol_and_the_mini_type(market, api):
    make_symbol("ETH/USDT")

    every = api.get("/api/v3/ticker/24hr").json()
    mini = api.get('/api/v3/ticker/24hr?symbols=["ETHUSDT"]&type=MINI').json()

    assert [t["symbol"] for t in every] == ["BTCUSDT", "ETHUSDT"]
    assert every[1]["lastPrice"] == "0.00000000" and every[1]["count"] == 0 and every[1]["firstId"] == -1
    assert [t["symbol"] for t in mini] == ["ETHUSDT"]
    assert "bidPrice" not in mini[0] and "openPrice" in mini[0]


def test_ticker_price_and_book_ticker(market, api):
    make_symbol("ETH/USDT")

    assert api.get("/api/v3/ticker/price?symbol=BTCUSDT").json() == {"symbol": "BTCUSDT", "price": "50000.00000000"}
    assert [p["symbol"] for p in api.get("/api/v3/ticker/price").json()] == ["BTCUSDT", "ETHUSDT"]
    assert api.get("/api/v3/ticker/bookTicker?symbol=BTCUSDT").json() == {
        "symbol": "BTCUSDT", "bidPrice": "49000.00000000", "bidQty": "3.00000000",
        "askPrice": "51000.00000000", "askQty": "1.50000000",
    }
    empty = api.get('/api/v3/ticker/bookTicker?symbols=["ETHUSDT"]').json()
    assert empty == [{"symbol": "ETHUSDT", "bidPrice": "0.00000000", "bidQty": "0.00000000",
                      "askPrice": "0.00000000", "askQty": "0.00000000"}]


def test_klines_with_a_start_time_are_the_first_from_there_as_on_binance(market, bob, api):
    place(bob, market, "SELL", "1", "49000.00")
    place(bob, market, "SELL", "1", "48000.00")
    process(market)
    minute = datetime(2026, 1, 5, 12, 0, tzinfo=timezone.utc)
    for n, trade in enumerate(Trade.objects.filter(symbol=market).order_by("sequence")):
        Trade.objects.filter(pk=trade.pk).update(executed_at=minute + timedelta(minutes=n, seconds=30))
    start = millis(minute.isoformat())

    def opens(query: str) -> list[int]:
        return [k[0] for k in api.get(f"/api/v3/klines?symbol=BTCUSDT&interval=1m&{query}").json()]

    assert opens(f"startTime={start}&limit=2") == [start, start + 60_000]
    assert opens(f"endTime={start + 120_000}&limit=2") == [start + 60_000, start + 120_000]
    assert opens(f"startTime={start}&endTime={start + 60_000}") == [start, start + 60_000]
    assert opens(f"startTime={start + 60_000}&endTime={start}") == []
