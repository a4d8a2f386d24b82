"""Binance's public Spot REST paths (mounted under /api/v3/)."""

from django.urls import path

from . import general_views, market_views, ticker_views

urlpatterns = [
    path("ping", general_views.PingView.as_view(), name="binance-ping"),
    path("time", general_views.TimeView.as_view(), name="binance-time"),
    path("exchangeInfo", general_views.ExchangeInfoView.as_view(), name="binance-exchange-info"),
    path("depth", market_views.DepthView.as_view(), name="binance-depth"),
    path("trades", market_views.TradesView.as_view(), name="binance-trades"),
    path("historicalTrades", market_views.HistoricalTradesView.as_view(), name="binance-historical-trades"),
    path("aggTrades", market_views.AggTradesView.as_view(), name="binance-agg-trades"),
    path("klines", market_views.KlinesView.as_view(), name="binance-klines"),
    path("avgPrice", ticker_views.AvgPriceView.as_view(), name="binance-avg-price"),
    path("ticker/24hr", ticker_views.Ticker24hView.as_view(), name="binance-ticker-24hr"),
    path("ticker/price", ticker_views.TickerPriceView.as_view(), name="binance-ticker-price"),
    path("ticker/bookTicker", ticker_views.BookTickerView.as_view(), name="binance-book-ticker"),
]
