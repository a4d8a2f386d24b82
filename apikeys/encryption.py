"""Secrets at rest: Fernet with the keys of settings.API_KEY_ENCRYPTION_KEYS.

The first key encrypts, every key decrypts (MultiFernet), so a new key can
be put first while secrets encrypted with the old one stay readable until
`manage.py rotate_api_key_secrets` re-encrypts them."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.API_KEY_ENCRYPTION_KEYS))


def encrypt(secret: str) -> str:
    return _current().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    """The secret; cryptography.fernet.InvalidToken when no key opens it."""
    return _current().decrypt(token.encode()).decode()


def reencrypt(token: str) -> str:
    """The same secret, encrypted with the newest key."""
    return _current().rotate(token.encode()).decode()
