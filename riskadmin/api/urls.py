"""Operator API routes (mounted under /api/v1/admin/)."""

from django.urls import path

from . import views

urlpatterns = [
    path("health/detailed", views.HealthDetailedView.as_view(), name="admin-health-detailed"),
    path("metrics", views.MetricsView.as_view(), name="admin-metrics"),
    path("stats", views.StatsView.as_view(), name="admin-stats"),
    path("performance", views.PerformanceView.as_view(), name="admin-performance"),
    path("limits/user/<int:user_id>", views.UserLimitsView.as_view(), name="admin-limits-user"),
    path("limits/symbol/<path:symbol>", views.SymbolLimitsView.as_view(), name="admin-limits-symbol"),
    path("trading/halt/<path:symbol>", views.HaltView.as_view(), name="admin-trading-halt"),
    path("trading/resume/<path:symbol>", views.ResumeView.as_view(), name="admin-trading-resume"),
    path("orders/cancel-all/<int:user_id>", views.CancelAllView.as_view(), name="admin-cancel-all"),
    path("orderbook/stats", views.OrderbookStatsView.as_view(), name="admin-orderbook-stats"),
    path("audit", views.AuditView.as_view(), name="admin-audit"),
]
