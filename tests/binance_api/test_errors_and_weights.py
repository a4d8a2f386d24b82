"""Binance's error codes and texts on /api/v3 (and only there), and request
weights counted per IP in the project's rate limiter."""

from __future__ import annotations

import pytest

from .conftest import assert_binance_error


@pytest.mark.parametrize(("query", "code", "msg"), [
    ("", -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."),
    ("?symbol=", -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."),
    ("?symbol=NOPEUSDT", -1121, "Invalid symbol."),
    ("?symbol=btc/usdt", -1100, "Illegal characters found in parameter 'symbol'; legal range is '^[A-Z0-9-_.]{1,20}$'."),
    ("?symbol=BTCUSDT&limit=ten", -1100, "Illegal characters found in parameter 'limit'; legal range is '^[0-9]{1,20}$'."),
    ("?symbol=BTCUSDT&limit=0", -1130, "Invalid data sent for a parameter."),
    ("?symbol=BTCUSDT&limit=", -1105, "Parameter 'limit' was empty."),
    ("?symbol=BTCUSDT&symbol=BTCUSDT", -1101, "Duplicate values for a parameter detected."),
])
def test_bad_parameters_answer_binances_codes(symbol, api, query, code, msg):
    assert_binance_error(api.get("/api/v3/depth" + query), 400, code, msg)


def test_symbol_and_symbols_together_are_refused(symbol, api):
    assert_binance_error(api.get('/api/v3/ticker/price?symbol=BTCUSDT&symbols=["BTCUSDT"]'), 400, -1128)


def test_the_native_api_keeps_its_own_error_format(symbol, api):
    response = api.get("/api/v1/orderbook/NOPE-USDT")

    assert (response.status_code, response.json()["error"]["code"]) == (404, "UNKNOWN_SYMBOL")


def test_the_used_weight_header_counts_each_requests_weight(symbol, api, settings, clean_rate_limits):
    settings.RATE_LIMITS = {"ip": "1200/min"}

    used = [
        int(api.get(path)["X-MBX-USED-WEIGHT-1M"])
        for path in ("/api/v3/ping", "/api/v3/depth?symbol=BTCUSDT", "/api/v3/depth?symbol=BTCUSDT&limit=1000",
                     "/api/v3/exchangeInfo", "/api/v3/ticker/24hr")
    ]

    assert used == [1, 1 + 5, 6 + 50, 56 + 20, 76 + 80]


def test_native_requests_count_one_in_the_same_per_ip_budget(symbol, api, settings, clean_rate_limits):
    settings.RATE_LIMITS = {"ip": "1200/min"}
    api.get("/api/v1/symbols")

    assert api.get("/api/v3/ping")["X-MBX-USED-WEIGHT-1M"] == "2"


def test_over_the_weight_limit_is_429_with_retry_after_and_1003(symbol, api, settings, clean_rate_limits):
    settings.RATE_LIMITS = {"ip": "30/min"}
    assert api.get("/api/v3/exchangeInfo").status_code == 200

    response = api.get("/api/v3/exchangeInfo")

    assert_binance_error(response, 429, -1003, "Too much request weight used; current limit is 30 request weight "
                         "per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["X-MBX-USED-WEIGHT-1M"] == "20"  # the refused request counted nowhere
    assert api.get("/api/v3/ping")["X-MBX-USED-WEIGHT-1M"] == "21"
