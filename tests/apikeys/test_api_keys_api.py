"""/api/v1/api-keys: create (the secret shown once), list (never a secret),
revoke; each user sees and revokes only their own keys."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apikeys.models import ApiKey
from riskadmin.models import AuditLog
from tests.security.conftest import assert_error_body

from .conftest import make_key, signed_client

KEYS = "/api/v1/api-keys"


def test_a_created_key_shows_its_secret_once_and_the_list_never(alice, alice_api):
    created = alice_api.post(KEYS, {"label": "grid bot", "permissions": ["READ", "TRADE"],
                                    "ip_allowlist": ["203.0.113.7", "198.51.100.9/24"]}, format="json")

    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) >= {"id", "label", "api_key", "secret", "permissions", "ip_allowlist", "created_at",
                         "expires_at", "last_used_at", "last_used_ip"}
    assert body["label"] == "grid bot" and body["permissions"] == ["READ", "TRADE"]
    assert body["ip_allowlist"] == ["203.0.113.7", "198.51.100.0/24"]
    assert len(body["api_key"]) == 64 and len(body["secret"]) == 64 and body["api_key"].isalnum()
    assert body["expires_at"] is None and body["last_used_at"] is None

    listed = alice_api.get(KEYS)
    assert listed.status_code == 200
    assert [k["id"] for k in listed.json()] == [body["id"]]
    assert "secret" not in listed.json()[0]
    assert body["secret"] not in listed.content.decode()
    assert listed.json()[0]["api_key"] == body["api_key"]
    assert AuditLog.objects.filter(actor=alice, action="apikey.create", target=f"apikey:{body['id']}").exists()


def test_every_key_reads_and_an_expiry_must_lie_ahead(alice_api):
    read_only = alice_api.post(KEYS, {"permissions": ["TRADE"]}, format="json").json()
    assert read_only["permissions"] == ["READ", "TRADE"]
    expires = (timezone.now() + timedelta(days=30)).isoformat()
    expiring = alice_api.post(KEYS, {"permissions": ["READ"], "expires_at": expires}, format="json")
    assert expiring.status_code == 201 and expiring.json()["expires_at"] is not None

    past = (timezone.now() - timedelta(minutes=1)).isoformat()
    assert_error_body(alice_api.post(KEYS, {"permissions": ["READ"], "expires_at": past}, format="json"), 400, "VALIDATION_ERROR")
    assert_error_body(alice_api.post(KEYS, {"permissions": []}, format="json"), 400, "VALIDATION_ERROR")
    assert_error_body(alice_api.post(KEYS, {"permissions": ["WITHDRAW"]}, format="json"), 400, "VALIDATION_ERROR")
    assert_error_body(alice_api.post(KEYS, {"permissions": ["READ"], "ip_allowlist": ["example.com"]}, format="json"), 400, "VALIDATION_ERROR")


def test_revoking_hides_the_key_and_stops_it_at_once(alice, alice_api):
    created = make_key(alice)
    signed = signed_client(created)
    assert signed.get("/api/v1/balances").status_code == 200

    assert alice_api.delete(f"{KEYS}/{created.key.id}").status_code == 204

    assert alice_api.get(KEYS).json() == []
    assert ApiKey.objects.get(id=created.key.id).revoked_at is not None
    assert_error_body(signed.get("/api/v1/balances"), 401, "INVALID_API_KEY")
    assert_error_body(alice_api.delete(f"{KEYS}/{created.key.id}"), 404, "NOT_FOUND")
    assert AuditLog.objects.filter(actor=alice, action="apikey.revoke", target=f"apikey:{created.key.id}").exists()


def test_another_users_key_is_not_found(alice, bob_api):
    created = make_key(alice)

    assert_error_body(bob_api.delete(f"{KEYS}/{created.key.id}"), 404, "NOT_FOUND")
    assert bob_api.get(KEYS).json() == []
    assert ApiKey.objects.get(id=created.key.id).revoked_at is None


def test_keys_are_managed_with_a_login_not_with_a_key(alice, trade_api, anon_api):
    assert_error_body(trade_api.get(KEYS), 401)
    assert_error_body(trade_api.post(KEYS, {"permissions": ["READ", "TRADE"]}), 401)
    assert_error_body(anon_api.get(KEYS), 401, "NOT_AUTHENTICATED")
    assert ApiKey.objects.filter(user=alice).count() == 1


def test_no_log_line_carries_a_secret(alice, alice_api, caplog):
    caplog.set_level("DEBUG")
    created = alice_api.post(KEYS, {"permissions": ["READ", "TRADE"]}, format="json").json()
    client = signed_client(make_key(alice))
    client.get("/api/v1/balances")
    client.get("/api/v1/balances", secret="wrong")

    assert caplog.records  # the access log ran
    assert created["secret"] not in caplog.text and client.secret not in caplog.text
