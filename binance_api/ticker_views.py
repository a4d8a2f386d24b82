"""The average price and the tickers in Binance's shapes, from the
market-data selectors (the same reads as /api/v1)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from marketdata import selectors
from riskadmin.models import Symbol

from . import errors, params, symbols
from .base import PublicView
from .formats import amount, millis, rounded

AVERAGE_PRICE_MINUTES = 5


class AvgPriceView(PublicView):
    """The volume-weighted price of the last five minutes' trades (the last
    trade's price when there were none)."""

    weight = 2

    def get(self, request: Request) -> Response:
        symbol = params.symbol(request.query_params)
        now = timezone.now()
        minutes = selectors.candles(symbol=symbol, interval="1m", start=now - timedelta(minutes=AVERAGE_PRICE_MINUTES),
                                    end=now, limit=AVERAGE_PRICE_MINUTES + 1)
        volume = sum((Decimal(c["volume"]) for c in minutes), Decimal(0))
        quote = sum((Decimal(c["quote_volume"]) for c in minutes), Decimal(0))
        last = selectors.trades(symbol=symbol, limit=1)
        if volume:
            price = rounded(quote / volume)
        else:
            price = amount(last[0]["price"] if last else None)
        return Response({"mins": AVERAGE_PRICE_MINUTES, "price": price,
                         "closeTime": millis(last[0]["executed_at"]) if last else 0})


def _many_weight(count: int | None, *, one: int, many: int) -> int:
    return one if count == 1 else many


def _answer(bodies: list[dict], single: bool) -> Response:
    return Response(bodies[0] if single else bodies)


class Ticker24hView(PublicView):
    def request_weight(self, request: Request) -> int:
        count = params.symbol_count(request.query_params)
        if count is None or count > 100:
            return 80
        return 2 if count <= 20 else 40

    def get(self, request: Request) -> Response:
        kind = params.text(request.query_params, "type") or "FULL"
        if kind not in ("FULL", "MINI"):
            raise errors.illegal_characters("type", "FULL, MINI")
        found, single = params.selected_symbols(request.query_params)
        now = timezone.now()
        return _answer([_ticker_24h(s, now, full=kind == "FULL") for s in found], single)


def _ticker_24h(symbol: Symbol, now, *, full: bool) -> dict:
    ticker = selectors.ticker(symbol=symbol, now=now)
    opened = now - timedelta(hours=24)
    window = selectors.trade_window(symbol=symbol, start=opened, end=now)
    stats = {
        "openPrice": amount(ticker["open_24h"]),
        "highPrice": amount(ticker["high_24h"]),
        "lowPrice": amount(ticker["low_24h"]),
        "lastPrice": amount(ticker["last_price"]),
        "volume": amount(ticker["volume_24h"]),
        "quoteVolume": amount(ticker["quote_volume_24h"]),
        "openTime": millis(opened),
        "closeTime": millis(now),
        "firstId": window["first_id"] if window["count"] else -1,
        "lastId": window["last_id"] if window["count"] else -1,
        "count": window["count"],
    }
    if not full:
        return {"symbol": symbols.binance_name(symbol), **stats}
    opening, last = Decimal(ticker["open_24h"] or 0), Decimal(ticker["last_price"] or 0)
    volume, quote = Decimal(ticker["volume_24h"]), Decimal(ticker["quote_volume_24h"])
    change = last - opening if ticker["open_24h"] else Decimal(0)
    book = selectors.order_book(symbol=symbol, depth=1)
    bid, ask = (book["bids"] or [[None, None]])[0], (book["asks"] or [[None, None]])[0]
    newest = selectors.trades(symbol=symbol, limit=1)
    return {
        "symbol": symbols.binance_name(symbol),
        "priceChange": amount(change),
        "priceChangePercent": rounded(change / opening * 100 if opening else Decimal(0), 3),
        "weightedAvgPrice": rounded(quote / volume) if volume else amount(0),
        "prevClosePrice": amount(window["previous_price"]),
        "lastPrice": stats.pop("lastPrice"),
        "lastQty": amount(newest[0]["quantity"] if newest else None),
        "bidPrice": amount(bid[0]),
        "bidQty": amount(bid[1]),
        "askPrice": amount(ask[0]),
        "askQty": amount(ask[1]),
        **stats,
    }


class TickerPriceView(PublicView):
    def request_weight(self, request: Request) -> int:
        return _many_weight(params.symbol_count(request.query_params), one=2, many=4)

    def get(self, request: Request) -> Response:
        found, single = params.selected_symbols(request.query_params)
        return _answer([{"symbol": symbols.binance_name(s), "price": amount(s.last_price)} for s in found], single)


class BookTickerView(PublicView):
    def request_weight(self, request: Request) -> int:
        return _many_weight(params.symbol_count(request.query_params), one=2, many=4)

    def get(self, request: Request) -> Response:
        found, single = params.selected_symbols(request.query_params)
        return _answer([_book_ticker(s) for s in found], single)


def _book_ticker(symbol: Symbol) -> dict:
    book = selectors.order_book(symbol=symbol, depth=1)
    bid, ask = (book["bids"] or [[None, None]])[0], (book["asks"] or [[None, None]])[0]
    return {"symbol": symbols.binance_name(symbol), "bidPrice": amount(bid[0]), "bidQty": amount(bid[1]),
            "askPrice": amount(ask[0]), "askQty": amount(ask[1])}
