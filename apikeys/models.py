"""API keys: a public id and a secret that signs requests, owned by a user."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from core.api.permissions import PERMISSIONS


class ApiKey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    label = models.CharField(max_length=100, blank=True)
    # Public: sent with every request to name the key (unique, hence indexed).
    api_key = models.CharField(max_length=64, unique=True)
    # Fernet token of the secret (apikeys.encryption); never the secret itself.
    encrypted_secret = models.TextField()
    permissions = ArrayField(models.CharField(max_length=8, choices=[(p, p) for p in PERMISSIONS]))
    # Addresses or networks ("203.0.113.7", "198.51.100.0/24"); empty = any.
    ip_allowlist = ArrayField(models.CharField(max_length=49), default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"
        indexes = [models.Index(fields=["user", "-created_at"], name="apikey_user_created")]

    def __str__(self) -> str:
        return f"{self.label or 'API key'} ({self.api_key[:8]}…)"

    def is_usable(self, now) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
