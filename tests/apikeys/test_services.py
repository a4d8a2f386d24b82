"""The service other surfaces build on (the Binance-style /api/v3 signs its
own payloads): find a usable key, check a signature, the address, the time."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apikeys import errors, services

from .conftest import make_key, now_ms, sign


def test_a_surface_of_its_own_finds_the_key_and_checks_its_signature(alice):
    created = make_key(alice, ["READ"], ip_allowlist=["203.0.113.0/28"])
    payload = "symbol=BTCUSDT&side=BUY&timestamp=1764662400000"

    key = services.find_usable_key(created.key.api_key)
    assert key.user == alice and services.access_of(key).permissions == frozenset({"READ"})
    assert services.secret_of(key) == created.secret
    assert services.verify_signature(key, payload, sign(created.secret, payload.encode()))
    assert services.verify_signature(key, payload, sign(created.secret, payload.encode()).upper())
    assert not services.verify_signature(key, payload + "&x=1", sign(created.secret, payload.encode()))
    assert not services.verify_signature(key, payload, None) and not services.verify_signature(key, payload, "é")
    services.check_ip(key, "203.0.113.5")
    with pytest.raises(errors.IpNotAllowed):
        services.check_ip(key, "203.0.113.16")
    with pytest.raises(errors.IpNotAllowed):
        services.check_ip(key, None)


def test_keys_that_cannot_be_used_are_one_error(alice):
    created = make_key(alice)
    for api_key in (None, "", "nope"):
        with pytest.raises(errors.InvalidApiKey):
            services.find_usable_key(api_key)
    services.revoke_key(user=alice, key_id=created.key.id)
    with pytest.raises(errors.InvalidApiKey):
        services.find_usable_key(created.key.api_key)


def test_the_timestamp_window_is_the_callers_to_choose(db):
    now = now_ms()
    assert services.check_timestamp(str(now - 4_000), now_ms=now) == now - 4_000
    with pytest.raises(errors.TimestampOutOfWindow):
        services.check_timestamp(now - 6_000, now_ms=now)
    assert services.check_timestamp(now - 50_000, window_ms=60_000, now_ms=now) == now - 50_000  # a recvWindow


def test_authenticate_returns_the_user_and_the_keys_permissions(alice):
    created = make_key(alice, ["READ", "TRADE"])
    stamp = str(now_ms())

    signed = services.authenticate(
        api_key=created.key.api_key, timestamp=stamp, signature=sign(created.secret, f"{stamp}WS".encode()),
        payloads=[services.websocket_payload(stamp)], ip="198.51.100.1",
    )

    assert signed.user == alice and signed.permissions == frozenset({"READ", "TRADE"})
    assert signed.key.last_used_ip == "198.51.100.1" and signed.key.last_used_at <= timezone.now()


def test_a_user_has_at_most_so_many_keys(alice, settings):
    settings.API_KEYS_PER_USER = 2
    make_key(alice)
    make_key(alice)
    with pytest.raises(errors.TooManyApiKeys):
        make_key(alice)
