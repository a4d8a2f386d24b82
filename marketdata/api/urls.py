from django.urls import path

from . import views

urlpatterns = [
    path("symbols", views.SymbolListView.as_view(), name="symbols"),
    path("orderbook/<path:symbol>", views.OrderBookView.as_view(), name="orderbook"),
    path("trades/<path:symbol>", views.TradeListView.as_view(), name="trades"),
    path("ticker/<path:symbol>", views.TickerView.as_view(), name="ticker"),
    path("candles/<path:symbol>", views.CandleListView.as_view(), name="candles"),
    path("admin/websocket/connections", views.WebSocketConnectionsView.as_view(), name="websocket-connections"),
]
