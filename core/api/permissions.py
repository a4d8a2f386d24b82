"""What a request signed with an API key may do.

A login (JWT) may do everything its user may. An API key carries
permissions: every key reads; writing needs a view that says it trades
(`trading = True`, e.g. placing and cancelling orders) and a key with TRADE.
Anything else an API key asks to change (its own keys, operator actions) is
refused: those need a login.
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

READ = "READ"
TRADE = "TRADE"
PERMISSIONS = (READ, TRADE)


@dataclass(frozen=True)
class KeyAccess:
    """request.auth of a request signed with an API key."""

    key_id: int
    permissions: frozenset[str]

    def allows(self, permission: str) -> bool:
        return permission in self.permissions


class ApiKeyScope(BasePermission):
    """Limits requests signed with an API key to what the key grants."""

    def has_permission(self, request, view) -> bool:
        access = request.auth
        if not isinstance(access, KeyAccess) or request.method in SAFE_METHODS:
            return True
        if not getattr(view, "trading", False):
            raise PermissionDenied("API keys cannot do this; log in instead.")
        if not access.allows(TRADE):
            raise PermissionDenied("This API key may read only: placing and cancelling orders need the TRADE permission.")
        return True
