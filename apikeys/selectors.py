"""Reading API keys."""

from __future__ import annotations

from django.db.models import QuerySet

from .errors import ApiKeyNotFound
from .models import ApiKey


def keys_of(*, user) -> QuerySet[ApiKey]:
    """The user's keys that are not revoked (expired ones included), newest first."""
    return ApiKey.objects.filter(user=user, revoked_at__isnull=True)


def own_key(*, user, key_id: int) -> ApiKey:
    """One of the user's unrevoked keys; another user's key is not found either."""
    key = keys_of(user=user).filter(id=key_id).first()
    if key is None:
        raise ApiKeyNotFound(key_id=key_id)
    return key


def key_by_public_id(api_key: str) -> ApiKey | None:
    """The key named by its public id, with its user; None when unknown."""
    try:
        return ApiKey.objects.select_related("user").get(api_key=api_key)
    except ApiKey.DoesNotExist:
        return None
