"""Operators list everyone's API keys and revoke them (audited, with a
reason). Keys are created by their owners only; secrets are never shown."""

from __future__ import annotations

from django.contrib import admin, messages

from core.admin import ReadOnlyAdmin, ask_reason
from core.api.client import client_ip

from . import services
from .models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = ["api_key_start", "user", "label", "permissions", "created_at", "expires_at", "revoked_at", "last_used_at", "last_used_ip"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "label", "api_key"]
    list_select_related = ["user"]
    # Not encrypted_secret: the admin has no business showing it, even encrypted.
    fields = readonly_fields = [
        "user", "label", "api_key", "permissions", "ip_allowlist", "created_at", "expires_at",
        "revoked_at", "last_used_at", "last_used_ip",
    ]
    actions = ["revoke"]

    @admin.display(description="API key")
    def api_key_start(self, key: ApiKey) -> str:
        return f"{key.api_key[:12]}…"

    @admin.action(description="Revoke the selected API keys")
    def revoke(self, request, queryset):
        def apply(key, reason):
            return services.revoke_key_as_operator(key=key, actor=request.user, reason=reason, ip=client_ip(request))

        result = ask_reason(self, request, queryset, action="revoke", title="Revoke API keys", apply=apply)
        if isinstance(result, list):
            self.message_user(request, f"Revoked {len(result)} API key(s).", messages.WARNING)
            return None
        return result
