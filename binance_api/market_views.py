"""Public market data in Binance's shapes: depth, trades, aggregate trades,
klines, the average price and the tickers. Each view reads its parameters,
calls the market-data selectors (the same reads as /api/v1) and renders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from marketdata import selectors
from marketdata.streams import INTERVALS
from riskadmin.models import Symbol

from . import errors, params, symbols
from .base import PublicView
from .formats import amount, from_millis, millis, rounded

MAX_DEPTH = selectors.MAX_BOOK_DEPTH
MAX_TRADES = 1000
AVERAGE_PRICE_MINUTES = 5


def _trade(trade: dict) -> dict:
    price, quantity = Decimal(trade["price"]), Decimal(trade["quantity"])
    return {
        "id": trade["id"],
        "price": amount(price),
        "qty": amount(quantity),
        "quoteQty": amount(price * quantity),
        "time": millis(trade["executed_at"]),
        "isBuyerMaker": trade["taker_side"] == "SELL",
        "isBestMatch": True,
    }


class DepthView(PublicView):
    def request_weight(self, request: Request) -> int:
        limit = params.lenient_integer(request.query_params, "limit", 100)
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250

    def get(self, request: Request) -> Response:
        symbol = params.symbol(request.query_params)
        limit = params.limit(request.query_params, default=100, maximum=MAX_DEPTH)
        book = selectors.order_book(symbol=symbol, depth=limit)
        return Response({
            "lastUpdateId": book["sequence"],
            "bids": [[amount(p), amount(q)] for p, q in book["bids"]],
            "asks": [[amount(p), amount(q)] for p, q in book["asks"]],
        })


class TradesView(PublicView):
    """The newest trades, oldest first."""

    weight = 25

    def get(self, request: Request) -> Response:
        symbol = params.symbol(request.query_params)
        limit = params.limit(request.query_params, default=500, maximum=MAX_TRADES)
        return Response([_trade(t) for t in selectors.trades(symbol=symbol, limit=limit)])


class HistoricalTradesView(PublicView):
    """From trade `fromId` on (else the newest), oldest first."""

    weight = 25

    def get(self, request: Request) -> Response:
        query = request.query_params
        symbol = params.symbol(query)
        limit = params.limit(query, default=500, maximum=MAX_TRADES)
        from_id = params.integer(query, "fromId")
        return Response([_trade(t) for t in selectors.trades(symbol=symbol, from_id=from_id, limit=limit)])


class AggTradesView(PublicView):
    """One aggregate per trade: trades are not merged, so `a`, `f` and `l`
    are all the trade's id."""

    weight = 4

    def get(self, request: Request) -> Response:
        query = request.query_params
        symbol = params.symbol(query)
        limit = params.limit(query, default=500, maximum=MAX_TRADES)
        from_id = params.integer(query, "fromId")
        start, end = params.integer(query, "startTime"), params.integer(query, "endTime")
        if start is not None and end is not None and start > end:
            return Response([])
        found = selectors.trades(symbol=symbol, from_id=from_id, limit=limit,
                                 start=None if start is None else from_millis(start),
                                 end=None if end is None else from_millis(end + 1))  # through endTime's millisecond
        return Response([{
            "a": t["id"], "p": amount(t["price"]), "q": amount(t["quantity"]), "f": t["id"], "l": t["id"],
            "T": millis(t["executed_at"]), "m": t["taker_side"] == "SELL", "M": True,
        } for t in found])


class KlinesView(PublicView):
    """Klines whose open time is in [startTime, endTime]; intervals without
    trades are left out (Binance sends them with zero volume)."""

    weight = 2

    def get(self, request: Request) -> Response:
        query = request.query_params
        symbol = params.symbol(query)
        interval = params.text(query, "interval", required=True)
        if interval not in INTERVALS:
            raise errors.invalid_interval()
        limit = params.limit(query, default=500, maximum=selectors.MAX_CANDLES)
        start, end = params.integer(query, "startTime"), params.integer(query, "endTime")
        step = INTERVALS[interval] * 1000
        window = _kline_window(step, start, end, limit)
        if window is None:
            return Response([])
        candles = selectors.candles(symbol=symbol, interval=interval, limit=limit, with_flow=True,
                                    **{k: from_millis(v) for k, v in window.items()})
        return Response([_kline(c, step) for c in candles])


def _kline_window(step: int, start: int | None, end: int | None, limit: int) -> dict[str, int] | None:
    """The selector's trade-time bounds [start, end) in milliseconds for
    klines opening in [startTime, endTime]: whole intervals only, and from
    startTime on at most `limit` of them; None when no interval opens there."""
    window = {}
    if start is not None:
        window["start"] = -(-start // step) * step  # the first interval opening at or after startTime
    if end is not None:
        window["end"] = end // step * step + step  # through the interval open at endTime
    if start is not None:
        window["end"] = min(window.get("end", window["start"] + step * limit), window["start"] + step * limit)
    if "start" in window and window["end"] <= window["start"]:
        return None
    return window


def _kline(candle: dict, step: int) -> list:
    opened = millis(candle["open_time"])
    return [
        opened, amount(candle["open"]), amount(candle["high"]), amount(candle["low"]), amount(candle["close"]),
        amount(candle["volume"]), opened + step - 1, amount(candle["quote_volume"]), candle["trades"],
        amount(candle["taker_buy_volume"]), amount(candle["taker_buy_quote_volume"]), "0",
    ]


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
