"""GET /api/v3/ping, /time and /exchangeInfo: Binance's shapes, from our
symbols, limits and rate limits."""

from __future__ import annotations

import time
from decimal import Decimal

from riskadmin.models import Symbol, SymbolLimit
from tests.factories import make_symbol

from .conftest import assert_binance_error


def filters_by_type(info: dict) -> dict[str, dict]:
    return {f["filterType"]: f for f in info["filters"]}


def test_ping_answers_an_empty_object(api):
    response = api.get("/api/v3/ping")

    assert (response.status_code, response.json()) == (200, {})


def test_time_is_the_servers_clock_in_milliseconds(api):
    before = time.time_ns() // 1_000_000
    server_time = api.get("/api/v3/time").json()["serverTime"]

    assert before <= server_time <= time.time_ns() // 1_000_000


def test_exchange_info_describes_each_symbol_with_binances_fields(symbol, api):
    body = api.get("/api/v3/exchangeInfo").json()

    assert body["timezone"] == "UTC"
    assert isinstance(body["serverTime"], int)
    [info] = body["symbols"]
    assert info["symbol"] == "BTCUSDT"
    assert (info["status"], info["baseAsset"], info["quoteAsset"]) == ("TRADING", "BTC", "USDT")
    assert (info["baseAssetPrecision"], info["quotePrecision"], info["quoteAssetPrecision"]) == (8, 8, 8)
    assert info["orderTypes"] == ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT"]
    assert info["icebergAllowed"] is info["ocoAllowed"] is info["otoAllowed"] is info["allowTrailingStop"] is False
    assert info["quoteOrderQtyMarketAllowed"] is info["cancelReplaceAllowed"] is info["isSpotTradingAllowed"] is True
    assert info["isMarginTradingAllowed"] is False
    assert (info["permissions"], info["permissionSets"]) == (["SPOT"], [["SPOT"]])
    assert info["defaultSelfTradePreventionMode"] == "EXPIRE_MAKER"
    assert info["allowedSelfTradePreventionModes"] == ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]


def test_filters_mirror_the_symbols_rules_in_binances_number_format(symbol, api):
    [info] = api.get("/api/v3/exchangeInfo").json()["symbols"]
    found = filters_by_type(info)

    assert set(found) == {"PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "MIN_NOTIONAL", "NOTIONAL"}
    assert found["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert found["PRICE_FILTER"]["minPrice"] == "0.01000000"
    assert found["LOT_SIZE"]["stepSize"] == found["MARKET_LOT_SIZE"]["stepSize"] == "0.00100000"
    assert found["LOT_SIZE"]["minQty"] == "0.00100000"
    assert Decimal(found["LOT_SIZE"]["maxQty"]) > 10**17  # no maximum set
    assert found["MIN_NOTIONAL"]["minNotional"] == found["NOTIONAL"]["minNotional"] == "1.00000000"
    assert found["MIN_NOTIONAL"]["applyToMarket"] is True
    for values in found.values():
        assert all(isinstance(v, (str, int, bool)) for v in values.values())  # never floats


def test_operator_limits_become_lot_size_and_percent_price_filters(symbol, api):
    SymbolLimit.objects.create(symbol=symbol, min_order_size=Decimal("0.01"), max_order_size=Decimal("5"),
                               max_price_deviation=Decimal("0.1"))

    [info] = api.get("/api/v3/exchangeInfo?symbol=BTCUSDT").json()["symbols"]
    found = filters_by_type(info)

    assert (found["LOT_SIZE"]["minQty"], found["LOT_SIZE"]["maxQty"]) == ("0.01000000", "5.00000000")
    assert found["PERCENT_PRICE_BY_SIDE"] == {
        "filterType": "PERCENT_PRICE_BY_SIDE",
        "bidMultiplierUp": "1.10000000", "bidMultiplierDown": "0.90000000",
        "askMultiplierUp": "1.10000000", "askMultiplierDown": "0.90000000",
        "avgPriceMins": 0,
    }


def test_a_halted_symbol_reads_halt(symbol, api):
    Symbol.objects.filter(pk=symbol.pk).update(status=Symbol.Status.HALTED)

    [info] = api.get("/api/v3/exchangeInfo").json()["symbols"]

    assert info["status"] == "HALT"
    assert api.get("/api/v3/exchangeInfo?symbolStatus=TRADING").json()["symbols"] == []


def test_symbol_and_symbols_select_what_is_described(symbol, api):
    make_symbol("ETH/USDT")

    def names(query: str) -> list[str]:
        return [s["symbol"] for s in api.get("/api/v3/exchangeInfo" + query).json()["symbols"]]

    assert names("") == ["BTCUSDT", "ETHUSDT"]
    assert names("?symbol=ETHUSDT") == ["ETHUSDT"]
    assert names('?symbols=["ETHUSDT","BTCUSDT"]') == ["ETHUSDT", "BTCUSDT"]


def test_an_unknown_symbol_is_1121(symbol, api):
    assert_binance_error(api.get("/api/v3/exchangeInfo?symbol=NOPEUSDT"), 400, -1121, "Invalid symbol.")
    assert_binance_error(api.get('/api/v3/exchangeInfo?symbols=["BTCUSDT","NOPEUSDT"]'), 400, -1121)


def test_malformed_symbols_are_1100(symbol, api):
    response = api.get("/api/v3/exchangeInfo?symbols=BTCUSDT")

    assert_binance_error(response, 400, -1100)
    assert response.json()["msg"].startswith("Illegal characters found in parameter 'symbols'; legal range is")


def test_rate_limits_mirror_our_settings(symbol, api, settings):
    settings.RATE_LIMITS = {"ip": "", "user": "", "orders": "100/10s", "orders_day": "200000/day"}
    body = api.get("/api/v3/exchangeInfo").json()

    assert body["rateLimits"] == [
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    ]


def test_amounts_finer_than_eight_decimals_keep_every_digit(db, api):
    make_symbol("SHIB/USDT", tick_size=Decimal("0.0000000001"), step_size=Decimal("1"), min_quantity=Decimal("1"))

    [info] = api.get("/api/v3/exchangeInfo?symbol=SHIBUSDT").json()["symbols"]

    assert filters_by_type(info)["PRICE_FILTER"]["tickSize"] == "0.0000000001"
    assert filters_by_type(info)["LOT_SIZE"]["stepSize"] == "1.00000000"
