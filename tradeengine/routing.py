"""WebSocket routes, and the origin check in front of them."""

from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path

from marketdata.consumers import MarketDataConsumer

websocket_urlpatterns = [
    path("ws", MarketDataConsumer.as_asgi()),
]


class BrowserOriginValidator(OriginValidator):
    """Browsers must come from an allowed host (as AllowedHostsOriginValidator);
    clients that send no Origin (bots, SDKs) are let in: the socket carries
    no cookie authority, private streams need a token sent in-band."""

    def valid_origin(self, parsed_origin) -> bool:
        return parsed_origin is None or super().valid_origin(parsed_origin)


def origin_checked(application):
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = ["localhost", "127.0.0.1", "[::1]"]
    return BrowserOriginValidator(application, allowed)
