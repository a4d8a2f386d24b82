"""Requests signed with an API key on the native v1 API: the signature, the
timestamp window, the key's permissions, expiry, revocation and allowlist."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apikeys.models import ApiKey
from orders.models import Order
from tests.factories import place
from tests.security.conftest import assert_error_body

from tests.conftest import client_for

from .conftest import make_key, now_ms, sign, signed_client

ORDER = {"symbol": "BTC-USDT", "side": "BUY", "type": "LIMIT", "quantity": "0.5", "price": "100.00"}


def test_a_signed_get_reads_the_owners_balances(alice, trade_api):
    response = trade_api.get("/api/v1/balances")

    assert response.status_code == 200, response.content
    assert {b["asset"] for b in response.json()} == {"USDT", "BTC"}
    assert trade_api.get("/api/v1/account").json()["username"] == "alice"


def test_the_query_string_is_signed_too(symbol, alice, trade_api):
    place(alice, symbol, "BUY", "1", "99.00")

    response = trade_api.get("/api/v1/orders?symbol=BTC-USDT&status=PENDING")

    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 1


def test_a_trade_key_places_and_cancels_an_order(symbol, alice, trade_api):
    placed = trade_api.post("/api/v1/orders", ORDER)

    assert placed.status_code == 202, placed.content  # no matcher here: accepted, PENDING
    order = Order.objects.get(id=placed.json()["id"])
    assert order.user_id == alice.id and order.status == "PENDING"
    assert trade_api.delete(f"/api/v1/orders/{order.id}").status_code in (200, 202)


def test_a_trade_key_sends_a_batch(symbol, alice, trade_api):
    resting = place(alice, symbol, "BUY", "1", "99.00")

    response = trade_api.post("/api/v1/orders/batch", {"cancel": [resting.id], "orders": [ORDER, {**ORDER, "price": "98.00"}]})

    assert response.status_code in (201, 202), response.content
    assert [o["order"]["price"] for o in response.json()["orders"]] == ["100.00", "98.00"]
    assert Order.objects.filter(user=alice).count() == 3


def test_a_read_key_reads_but_cannot_place_cancel_or_batch(symbol, alice, read_api):
    resting = place(alice, symbol, "BUY", "1", "99.00")

    assert read_api.get("/api/v1/orders").status_code == 200
    assert_error_body(read_api.post("/api/v1/orders", ORDER), 403, "FORBIDDEN")
    assert_error_body(read_api.delete(f"/api/v1/orders/{resting.id}"), 403, "FORBIDDEN")
    assert_error_body(read_api.delete("/api/v1/orders"), 403, "FORBIDDEN")
    assert_error_body(read_api.request("PATCH", f"/api/v1/orders/{resting.id}", {"quantity": "0.5"}), 403, "FORBIDDEN")
    assert_error_body(read_api.post("/api/v1/orders/batch", {"orders": [ORDER]}), 403, "FORBIDDEN")
    assert Order.objects.filter(user=alice).count() == 1


def test_a_key_cannot_do_operator_writes_even_for_staff(operator, symbol):
    staff_key = signed_client(make_key(operator))

    assert staff_key.get("/api/v1/admin/settlement/queue").status_code == 200
    response = staff_key.post("/api/v1/admin/deposits", {"username": "operator", "asset": "USDT", "amount": "10"})
    assert_error_body(response, 403, "FORBIDDEN")


def test_a_wrong_signature_is_401(alice, trade_key, trade_api):
    assert_error_body(trade_api.get("/api/v1/balances", secret="not-the-secret"), 401, "INVALID_SIGNATURE")
    # Signed for another target than the one requested.
    stamp = str(now_ms())
    response = trade_api.client.get("/api/v1/account", headers={
        "X-API-KEY": trade_key.key.api_key, "X-API-TIMESTAMP": stamp,
        "X-API-SIGNATURE": sign(trade_key.secret, f"{stamp}GET/api/v1/balances".encode()),
    })
    assert_error_body(response, 401, "INVALID_SIGNATURE")


def test_a_changed_body_breaks_the_signature(symbol, alice, trade_key, trade_api):
    stamp = str(now_ms())
    signed_body = b'{"symbol": "BTC-USDT", "side": "BUY", "type": "LIMIT", "quantity": "0.5", "price": "100.00"}'
    sent_body = signed_body.replace(b"0.5", b"50")
    response = trade_api.client.generic("POST", "/api/v1/orders", sent_body, content_type="application/json", headers={
        "X-API-KEY": trade_key.key.api_key, "X-API-TIMESTAMP": stamp,
        "X-API-SIGNATURE": sign(trade_key.secret, stamp.encode() + b"POST/api/v1/orders" + signed_body),
    })
    assert_error_body(response, 401, "INVALID_SIGNATURE")
    assert not Order.objects.exists()


def test_a_timestamp_more_than_five_seconds_away_is_401(alice, trade_api):
    assert_error_body(trade_api.get("/api/v1/balances", timestamp=now_ms() - 60_000), 401, "TIMESTAMP_OUT_OF_WINDOW")
    assert_error_body(trade_api.get("/api/v1/balances", timestamp=now_ms() + 60_000), 401, "TIMESTAMP_OUT_OF_WINDOW")
    assert trade_api.get("/api/v1/balances", timestamp=now_ms() - 2_000).status_code == 200
    for malformed in ("³", "1.5e12", "-1"):
        assert_error_body(trade_api.get("/api/v1/balances", timestamp=malformed), 401, "TIMESTAMP_OUT_OF_WINDOW")


def test_unknown_incomplete_revoked_and_expired_keys_are_401(alice, trade_key, anon_api):
    unknown = signed_client(trade_key)
    unknown.api_key = "x" * 64
    assert_error_body(unknown.get("/api/v1/balances"), 401, "INVALID_API_KEY")
    assert_error_body(anon_api.get("/api/v1/balances", headers={"X-API-KEY": trade_key.key.api_key}), 401, "NOT_AUTHENTICATED")

    expiring = make_key(alice, expires_at=timezone.now() + timedelta(hours=1))
    client = signed_client(expiring)
    assert client.get("/api/v1/balances").status_code == 200
    ApiKey.objects.filter(id=expiring.key.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error_body(client.get("/api/v1/balances"), 401, "INVALID_API_KEY")

    ApiKey.objects.filter(id=trade_key.key.id).update(revoked_at=timezone.now())
    assert_error_body(signed_client(trade_key).get("/api/v1/balances"), 401, "INVALID_API_KEY")


def test_an_inactive_users_key_is_401(alice, trade_api):
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert_error_body(trade_api.get("/api/v1/balances"), 401, "INVALID_API_KEY")


def test_the_allowlist_admits_listed_addresses_only(alice, settings):
    created = make_key(alice, ip_allowlist=["203.0.113.7", "198.51.100.0/24"])

    assert signed_client(created, REMOTE_ADDR="203.0.113.7").get("/api/v1/balances").status_code == 200
    assert signed_client(created, REMOTE_ADDR="198.51.100.42").get("/api/v1/balances").status_code == 200
    assert_error_body(signed_client(created, REMOTE_ADDR="192.0.2.1").get("/api/v1/balances"), 401, "IP_NOT_ALLOWED")
    # Without NUM_PROXIES anyone can write X-Forwarded-For: it is not believed.
    spoofed = signed_client(created, REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert_error_body(spoofed.get("/api/v1/balances"), 401, "IP_NOT_ALLOWED")
    # Behind one proxy, the address it saw is the caller's.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert spoofed.get("/api/v1/balances").status_code == 200


def test_the_last_use_is_recorded_at_most_once_a_minute(alice, trade_key, settings):
    client = signed_client(trade_key, REMOTE_ADDR="203.0.113.7")
    assert client.get("/api/v1/balances").status_code == 200
    first = ApiKey.objects.get(id=trade_key.key.id)
    assert first.last_used_at is not None and first.last_used_ip == "203.0.113.7"

    assert signed_client(trade_key, REMOTE_ADDR="203.0.113.8").get("/api/v1/balances").status_code == 200
    assert ApiKey.objects.get(id=trade_key.key.id).last_used_at == first.last_used_at  # within the minute: not written

    ApiKey.objects.filter(id=trade_key.key.id).update(last_used_at=first.last_used_at - timedelta(minutes=2))
    assert signed_client(trade_key, REMOTE_ADDR="203.0.113.8").get("/api/v1/balances").status_code == 200
    again = ApiKey.objects.get(id=trade_key.key.id)
    assert again.last_used_at > first.last_used_at and again.last_used_ip == "203.0.113.8"
    listed = client_for(alice).get("/api/v1/api-keys").json()
    assert listed[0]["last_used_ip"] == "203.0.113.8" and listed[0]["last_used_at"] is not None


def test_key_requests_count_in_the_owners_rate_limit_bucket(clean_rate_limits, alice, alice_api, trade_api, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "user": "3/min", "ip": ""}

    assert trade_api.get("/api/v1/balances").status_code == 200
    assert alice_api.get("/api/v1/balances").status_code == 200
    assert trade_api.get("/api/v1/balances").status_code == 200
    limited = trade_api.get("/api/v1/balances")
    assert_error_body(limited, 429, "RATE_LIMITED")
    assert_error_body(alice_api.get("/api/v1/balances"), 429, "RATE_LIMITED")  # one bucket per user, whatever the credential
