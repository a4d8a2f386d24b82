"""JWT authentication that also puts the user on the request's log context."""

from __future__ import annotations

import structlog
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication


class LoggedJWTAuthentication(JWTAuthentication):
    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            structlog.contextvars.bind_contextvars(user_id=result[0].id)
        return result


class LoggedJWTScheme(SimpleJWTScheme):
    """OpenAPI: the same bearer scheme as simplejwt's own class."""

    target_class = LoggedJWTAuthentication
