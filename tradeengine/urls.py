"""URL map: REST API under /api/v1/, schema and docs, admin, probes, metrics."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from settlement.admin_api import DepositView, SettlementQueueView
from settlement.api import BalanceListView

from .probes import healthz, readyz

api_v1 = [
    path("auth/token", TokenObtainPairView.as_view(), name="token"),
    path("auth/token/refresh", TokenRefreshView.as_view(), name="token-refresh"),
    path("balances", BalanceListView.as_view(), name="balances"),
    path("", include("marketdata.urls")),
    path("admin/deposits", DepositView.as_view(), name="admin-deposits"),
    path("admin/settlement/queue", SettlementQueueView.as_view(), name="admin-settlement-queue"),
    path("admin/", include("riskadmin.admin_urls")),
    path("", include("orders.api.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("", include("django_prometheus.urls")),
]
