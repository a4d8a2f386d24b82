"""Public market data in Binance's shapes: depth, trades, aggregate trades
and klines. Each view reads its parameters, calls the market-data selectors
(the same reads as /api/v1) and renders."""

from __future__ import annotations

from decimal import Decimal

from rest_framework.request import Request
from rest_framework.response import Response

from marketdata import selectors
from marketdata.streams import INTERVALS

from . import errors, params
from .base import PublicView
from .formats import amount, from_millis, millis

MAX_DEPTH = selectors.MAX_BOOK_DEPTH
MAX_TRADES = 1000


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
