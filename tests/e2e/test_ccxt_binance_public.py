"""ccxt's Binance client, pointed at a real stack (daphne, matcher, worker),
reads our public market data through /api/v3 as it would Binance's:
load_markets, fetch_order_book, fetch_ticker(s), fetch_trades, fetch_ohlcv.

ccxt is not in requirements.txt (its exact dependency pins would move
packages the project shares): requirements-ccxt.txt pins it and `make venv`
installs it without its dependencies."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest
import requests

pytestmark = pytest.mark.e2e

ORDERS = [  # (trader, side, quantity, price); bob's sell of 0.5 at 50000 trades
    ("alice", "BUY", "1.000", "49000.00"),
    ("alice", "BUY", "2.000", "48000.00"),
    ("alice", "SELL", "1.500", "51000.00"),
    ("bob", "SELL", "0.500", "50000.00"),
    ("alice", "BUY", "0.500", "50000.00"),
]


def binance_client(base_url: str):
    """Only spot, only our host: the futures, options and sapi endpoints
    ccxt also knows point nowhere and are never called."""
    exchange = ccxt.binance({
        "options": {"defaultType": "spot", "fetchMarkets": ["spot"], "fetchCurrencies": False},
        "enableRateLimit": False,
        "timeout": 30000,
    })
    for name in ("public", "private"):
        exchange.urls["api"][name] = f"{base_url}/api/v3"
    exchange.urls["api"]["v1"] = f"{base_url}/api/v1"
    return exchange


def trade_once(stack) -> None:
    headers = {name: {"Authorization": f"Bearer {stack.token(name)}"} for name in ("alice", "bob")}
    for trader, side, quantity, price in ORDERS:
        body = {"symbol": "BTC/USDT", "side": side, "type": "LIMIT", "quantity": quantity, "price": price}
        response = requests.post(f"{stack.base_url}/api/v1/orders", json=body, headers=headers[trader], timeout=30)
        assert response.status_code in (200, 201, 202), response.text
    stack.wait_until_quiet()


def test_ccxt_reads_markets_book_ticker_trades_and_candles(stack):
    trade_once(stack)
    exchange = binance_client(stack.base_url)

    markets = exchange.load_markets()
    order_book = exchange.fetch_order_book("BTC/USDT", limit=100)
    ticker = exchange.fetch_ticker("BTC/USDT")
    tickers = exchange.fetch_tickers(["BTC/USDT", "ETH/USDT"])
    trades = exchange.fetch_trades("BTC/USDT")
    candles = exchange.fetch_ohlcv("BTC/USDT", "1m")

    btc = markets["BTC/USDT"]
    [rules] = [s for s in requests.get(f"{stack.base_url}/api/v1/symbols", timeout=10).json() if s["symbol"] == "BTC/USDT"]
    assert set(markets) == {"BTC/USDT", "ETH/USDT"}
    assert (btc["id"], btc["base"], btc["quote"], btc["spot"], btc["active"]) == ("BTCUSDT", "BTC", "USDT", True, True)
    assert btc["precision"]["price"] == float(rules["tick_size"])
    assert btc["precision"]["amount"] == float(rules["step_size"])
    assert btc["limits"]["amount"]["min"] == float(rules["min_quantity"])
    assert btc["limits"]["cost"]["min"] == float(rules["min_notional"])

    native = requests.get(f"{stack.base_url}/api/v1/orderbook/BTC-USDT", timeout=10).json()
    assert order_book["bids"] == [[float(p), float(q)] for p, q in native["bids"]] == [[49000.0, 1.0], [48000.0, 2.0]]
    assert order_book["asks"] == [[51000.0, 1.5]]
    assert order_book["nonce"] == native["sequence"]

    assert (ticker["symbol"], ticker["last"], ticker["bid"], ticker["ask"]) == ("BTC/USDT", 50000.0, 49000.0, 51000.0)
    assert (ticker["baseVolume"], ticker["quoteVolume"]) == (0.5, 25000.0)
    assert set(tickers) == {"BTC/USDT", "ETH/USDT"}

    [trade] = trades
    assert (trade["symbol"], trade["price"], trade["amount"], trade["side"]) == ("BTC/USDT", 50000.0, 0.5, "buy")

    [candle] = candles
    assert candle[1:] == [50000.0, 50000.0, 50000.0, 50000.0, 0.5]
    assert Decimal(str(candle[5])) == Decimal("0.5")
