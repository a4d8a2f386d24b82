"""Requests signed with an API key: X-API-KEY (the public id),
X-API-TIMESTAMP (ms since the epoch) and X-API-SIGNATURE = hex
HMAC-SHA256(secret, timestamp + METHOD + request target + raw body)."""

from __future__ import annotations

import structlog
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication

from apikeys import errors, services
from core.api.client import client_ip

KEY_HEADER = "X-API-KEY"
TIMESTAMP_HEADER = "X-API-TIMESTAMP"
SIGNATURE_HEADER = "X-API-SIGNATURE"


def request_targets(request) -> list[str]:
    """The request target (path and query) as the client sent it, when the
    server kept it (ASGI's raw_path), and as Django rebuilds it from the
    decoded path: a client may sign either."""
    targets = [request.get_full_path()]
    scope = getattr(request, "scope", None)
    raw_path = scope.get("raw_path") if scope else None
    if raw_path:
        query = scope.get("query_string") or b""
        sent = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        if sent not in targets:
            targets.insert(0, sent)
    return targets


class ApiKeyAuthentication(BaseAuthentication):
    """request.user is the key's owner, request.auth a core.api.permissions.KeyAccess.

    A request without X-API-KEY is left to the other classes; one with it
    and anything wrong is refused (401, the failing check's code)."""

    def authenticate(self, request):
        django_request = request._request
        api_key = django_request.headers.get(KEY_HEADER)
        if not api_key:
            return None
        timestamp = django_request.headers.get(TIMESTAMP_HEADER)
        signature = django_request.headers.get(SIGNATURE_HEADER)
        if not timestamp or not signature:
            raise errors.IncompleteSignature()
        body = django_request.body
        signed = services.authenticate(
            api_key=api_key,
            timestamp=timestamp,
            signature=signature,
            payloads=[services.request_payload(timestamp, django_request.method, target, body)
                      for target in request_targets(django_request)],
            ip=client_ip(django_request),
        )
        structlog.contextvars.bind_contextvars(user_id=signed.user.id, api_key_id=signed.key.id)
        return signed.user, signed.access

    def authenticate_header(self, request) -> str:
        return 'APIKey realm="api"'


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """OpenAPI: the three signature headers (X-API-KEY names the scheme)."""

    target_class = ApiKeyAuthentication
    name = "apiKeySignature"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": KEY_HEADER,
            "description": (
                f"With {TIMESTAMP_HEADER} (ms since the epoch, within 5 s of the server) and "
                f"{SIGNATURE_HEADER} = hex HMAC-SHA256(secret, timestamp + METHOD + path and query + raw body)."
            ),
        }
