"""API keys: creating, revoking, and authenticating what a key signed.

A key is a public id (`api_key`) and a secret. The secret is returned once,
at creation, and stored encrypted (apikeys.encryption): the server needs it
in clear to check signatures, so it cannot be hashed. A signature is the hex
HMAC-SHA256 of a message with the secret; which message depends on the
surface (native REST: timestamp + METHOD + target + body; native /ws:
timestamp + "WS"; /api/v3: Binance's total params).

For a surface of its own, the steps are: find_usable_key() (unknown,
revoked, expired, inactive user: InvalidApiKey), verify_signature() (or
secret_of() to compute one), check_ip(), then note_use(). authenticate()
does them all, with the timestamp window, for the native surfaces.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import string
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.api.permissions import PERMISSIONS, READ, KeyAccess
from riskadmin.services import record_audit

from . import encryption, errors, selectors
from .models import ApiKey

KEY_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 64  # 64 letters and digits: ~381 bits, as long as Binance's keys
MAX_ALLOWLIST = 30


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown to the owner this once, never stored in clear


@dataclass(frozen=True)
class Authenticated:
    """Who signed, with which key, allowed to do what."""

    user: object
    key: ApiKey
    access: KeyAccess

    @property
    def permissions(self) -> frozenset[str]:
        return self.access.permissions


def _random_token() -> str:
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))


def normalize_permissions(permissions: Iterable[str]) -> list[str]:
    """Every key reads; TRADE is added on request. In PERMISSIONS order."""
    wanted = set(permissions) | {READ}
    unknown = wanted - set(PERMISSIONS)
    if unknown:
        raise ValueError(f"unknown permissions: {sorted(unknown)}")
    return [p for p in PERMISSIONS if p in wanted]


def normalize_allowlist(entries: Iterable[str]) -> list[str]:
    """Addresses and networks in canonical form ("203.0.113.7", "198.51.100.0/24");
    ValueError for anything else."""
    normalized = []
    for entry in entries:
        network = ipaddress.ip_network(str(entry).strip(), strict=False)
        single = network.num_addresses == 1
        normalized.append(str(network.network_address) if single else str(network))
    return list(dict.fromkeys(normalized))


@transaction.atomic
def create_key(
    *, user, permissions: Iterable[str], label: str = "", ip_allowlist: Iterable[str] = (),
    expires_at: datetime | None = None, ip: str | None = None,
) -> CreatedKey:
    if selectors.keys_of(user=user).count() >= settings.API_KEYS_PER_USER:
        raise errors.TooManyApiKeys(limit=settings.API_KEYS_PER_USER)
    secret = _random_token()
    key = ApiKey.objects.create(
        user=user,
        label=label,
        api_key=_random_token(),
        encrypted_secret=encryption.encrypt(secret),
        permissions=normalize_permissions(permissions),
        ip_allowlist=normalize_allowlist(ip_allowlist),
        expires_at=expires_at,
    )
    record_audit(actor=user, action="apikey.create", target=_target(key), payload=_summary(key), ip=ip)
    return CreatedKey(key=key, secret=secret)


@transaction.atomic
def revoke_key(*, user, key_id: int, ip: str | None = None) -> ApiKey:
    """The owner revokes one of their keys; it stops working at once."""
    key = selectors.own_key(user=user, key_id=key_id)
    return _revoke(key, actor=user, ip=ip)


@transaction.atomic
def revoke_key_as_operator(*, key: ApiKey, actor, reason: str = "", ip: str | None = None) -> ApiKey:
    """An operator revokes anyone's key (the Django admin); audited with the reason."""
    if key.revoked_at is not None:
        return key
    return _revoke(key, actor=actor, ip=ip, reason=reason)


def _revoke(key: ApiKey, *, actor, ip: str | None, reason: str = "") -> ApiKey:
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    payload = {**_summary(key), **({"reason": reason} if reason else {})}
    record_audit(actor=actor, action="apikey.revoke", target=_target(key), payload=payload, ip=ip)
    return key


def _target(key: ApiKey) -> str:
    return f"apikey:{key.id}"


def _summary(key: ApiKey) -> dict:
    # The public id's start is enough to recognise a key; never the secret.
    return {"user_id": key.user_id, "label": key.label, "api_key": key.api_key[:8], "permissions": key.permissions}


# -- authenticating -----------------------------------------------------------


def find_usable_key(api_key: str | None, *, now: datetime | None = None) -> ApiKey:
    """The key named `api_key` (with its user) when it may be used now:
    known, not revoked, not expired, its user active; else InvalidApiKey."""
    key = selectors.key_by_public_id(api_key) if isinstance(api_key, str) and api_key else None
    if key is None or not key.is_usable(now or timezone.now()) or not key.user.is_active:
        raise errors.InvalidApiKey()
    return key


def secret_of(key: ApiKey) -> str:
    """The key's secret in clear, to compute a signature (never log or return it)."""
    return encryption.decrypt(key.encrypted_secret)


def signature_of(secret: str, payload: bytes | str) -> str:
    """Hex HMAC-SHA256 of `payload` with `secret`."""
    message = payload.encode() if isinstance(payload, str) else payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(key: ApiKey, payload: bytes | str, signature: str | None) -> bool:
    """Whether `signature` (hex, any case) is the key's HMAC-SHA256 of
    `payload`; compared in constant time."""
    return _matches(secret_of(key), [payload], signature)


def _matches(secret: str, payloads: Iterable[bytes | str], signature: str | None) -> bool:
    if not isinstance(signature, str) or not signature.isascii():
        return False
    offered = signature.lower().encode()
    # Every candidate is compared, so the time taken does not tell which matched.
    found = False
    for payload in payloads:
        found |= hmac.compare_digest(signature_of(secret, payload).encode(), offered)
    return found


def check_ip(key: ApiKey, ip: str | None) -> None:
    """IpNotAllowed unless the key has no allowlist or `ip` is on it."""
    if not key.ip_allowlist:
        return
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        raise errors.IpNotAllowed() from None
    if not any(address in ipaddress.ip_network(entry, strict=False) for entry in key.ip_allowlist):
        raise errors.IpNotAllowed(ip=str(address))


def check_timestamp(timestamp: str | int | None, *, window_ms: int | None = None, now_ms: int | None = None) -> int:
    """The timestamp (ms since the epoch) when within `window_ms` of now,
    either way; else TimestampOutOfWindow."""
    window = settings.API_KEY_TIMESTAMP_WINDOW_MS if window_ms is None else window_ms
    text = str(timestamp).strip() if timestamp is not None else ""
    if not (text.isascii() and text.isdigit()) or len(text) > 16:
        raise errors.TimestampOutOfWindow("The timestamp is milliseconds since the epoch, e.g. 1764662400000.")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(int(text) - now) > window:
        raise errors.TimestampOutOfWindow(server_time=now, window_ms=window)
    return int(text)


def note_use(key: ApiKey, ip: str | None, *, now: datetime | None = None) -> None:
    """Record the key's last use, at most once per API_KEY_LAST_USED_RESOLUTION_SECONDS
    (a busy key would otherwise write its row on every request)."""
    now = now or timezone.now()
    resolution = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
    if key.last_used_at is not None and now - key.last_used_at < resolution:
        return
    try:
        address = str(ipaddress.ip_address(ip or ""))
    except ValueError:
        address = None
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=address)
    key.last_used_at, key.last_used_ip = now, address


def access_of(key: ApiKey) -> KeyAccess:
    return KeyAccess(key_id=key.id, permissions=frozenset(key.permissions))


def authenticate(
    *, api_key: str | None, timestamp: str | int | None, signature: str | None,
    payloads: Sequence[bytes | str], ip: str | None,
) -> Authenticated:
    """Who signed `payloads` (each a full signed message: any one may match,
    e.g. the request target as sent and as the server rebuilt it).

    Checks the timestamp window, the key, the signature, then the address
    (only a holder of the secret learns that the address is refused)."""
    check_timestamp(timestamp)
    key = find_usable_key(api_key)
    if not _matches(secret_of(key), payloads, signature):
        raise errors.InvalidSignature()
    check_ip(key, ip)
    note_use(key, ip)
    return Authenticated(user=key.user, key=key, access=access_of(key))


def websocket_payload(timestamp: str | int) -> str:
    """What a /ws auth message signs."""
    return f"{timestamp}WS"


def request_payload(timestamp: str, method: str, target: str, body: bytes) -> bytes:
    """What a native REST request signs: timestamp + METHOD + target + raw body."""
    return f"{timestamp}{method.upper()}{target}".encode() + body


# -- rotation -----------------------------------------------------------------


def reencrypt_all_secrets(*, batch_size: int = 500) -> int:
    """Encrypt every stored secret with the newest key (after a new one was
    put first in API_KEY_ENCRYPTION_KEYS); returns how many. Revoked keys too:
    once done, the old encryption key can be dropped."""
    done = 0
    last_id = 0
    while True:
        with transaction.atomic():
            keys = list(ApiKey.objects.select_for_update().filter(id__gt=last_id).order_by("id")[:batch_size])
            for key in keys:
                key.encrypted_secret = encryption.reencrypt(key.encrypted_secret)
            ApiKey.objects.bulk_update(keys, ["encrypted_secret"])
        if not keys:
            return done
        done += len(keys)
        last_id = keys[-1].id
