"""URL map: REST API under /api/v1/, the Binance-compatible API under /api/v3/, schema and docs, admin, probes, metrics."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from .login_throttle import admin_login_throttled, api_login_throttled
from .probes import healthz, readyz

api_v1 = [
    path("auth/token", api_login_throttled(TokenObtainPairView.as_view()), name="token"),
    path("auth/token/refresh", TokenRefreshView.as_view(), name="token-refresh"),
    path("", include("settlement.api.urls")),
    path("", include("marketdata.api.urls")),
    path("admin/", include("riskadmin.api.urls")),
    path("", include("orders.api.urls")),
    path("", include("apikeys.api.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/v3/", include("binance_api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # The admin's own login view, with failed logins throttled; listed first,
    # so it answers /admin/login/ (reverse("admin:login") names the same path).
    path("admin/login/", admin_login_throttled(admin.site.login)),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("", include("django_prometheus.urls")),
]
