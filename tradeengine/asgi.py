"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from .asgi_http import get_http_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradeengine.settings")
# A request runs in a thread of its own: it borrows a pooled connection
# (see DATABASES in settings) rather than opening one per thread. The one
# place the web tier's pool size is decided.
os.environ.setdefault("DB_POOL_MAX_SIZE", os.environ.get("WEB_DB_POOL_MAX_SIZE", "10"))
# Static files (admin, Swagger UI) are served by daphne itself: a single
# self-hosted process needs no separate web server for them.
django_asgi_app = ASGIStaticFilesHandler(get_http_application())

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from .routing import origin_checked, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": origin_checked(URLRouter(websocket_urlpatterns)),
})
