"""Operator API routes (mounted under /api/v1/admin/)."""

from django.urls import path

from . import admin_api as ops

urlpatterns = [
    path("health/detailed", ops.HealthDetailedView.as_view(), name="admin-health-detailed"),
    path("metrics", ops.MetricsView.as_view(), name="admin-metrics"),
    path("stats", ops.StatsView.as_view(), name="admin-stats"),
    path("performance", ops.PerformanceView.as_view(), name="admin-performance"),
    path("limits/user/<int:user_id>", ops.UserLimitsView.as_view(), name="admin-limits-user"),
    path("limits/symbol/<path:symbol>", ops.SymbolLimitsView.as_view(), name="admin-limits-symbol"),
    path("trading/halt/<path:symbol>", ops.HaltView.as_view(), name="admin-trading-halt"),
    path("trading/resume/<path:symbol>", ops.ResumeView.as_view(), name="admin-trading-resume"),
    path("orders/cancel-all/<int:user_id>", ops.CancelAllView.as_view(), name="admin-cancel-all"),
    path("orderbook/stats", ops.OrderbookStatsView.as_view(), name="admin-orderbook-stats"),
    path("audit", ops.AuditView.as_view(), name="admin-audit"),
]
