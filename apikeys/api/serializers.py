"""Request parsing and response shapes for /api/v1/api-keys."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from apikeys import services
from core.api.permissions import PERMISSIONS


class CreateApiKeySerializer(serializers.Serializer):
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=PERMISSIONS), allow_empty=False, max_length=len(PERMISSIONS),
        help_text="READ (every key has it) and TRADE (place, amend and cancel orders).",
    )
    ip_allowlist = serializers.ListField(
        child=serializers.CharField(max_length=49), required=False, default=list, max_length=services.MAX_ALLOWLIST,
        help_text='Addresses or networks ("203.0.113.7", "198.51.100.0/24") the key may be used from; empty: any.',
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate_ip_allowlist(self, value: list[str]) -> list[str]:
        try:
            return services.normalize_allowlist(value)
        except ValueError:
            raise serializers.ValidationError("Each entry is an IPv4 or IPv6 address or network.") from None

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("The expiry must be in the future.")
        return value


class ApiKeySerializer(serializers.Serializer):
    """A key as listed: never its secret."""

    id = serializers.IntegerField()
    label = serializers.CharField()
    api_key = serializers.CharField(help_text="The public id, sent as X-API-KEY.")
    permissions = serializers.ListField(child=serializers.ChoiceField(choices=PERMISSIONS))
    ip_allowlist = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    last_used_ip = serializers.IPAddressField(allow_null=True)


class CreatedApiKeySerializer(ApiKeySerializer):
    """The new key with its secret: shown this once."""

    secret = serializers.CharField(help_text="Signs requests. Shown only in this response; store it now.")
