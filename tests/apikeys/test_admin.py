"""Operators list everyone's keys in the Django admin and revoke them, with a
reason that goes to the audit log; the secret is never shown."""

from __future__ import annotations

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from apikeys.models import ApiKey
from riskadmin.models import AuditLog
from tests.security.conftest import assert_error_body

from .conftest import make_key, signed_client

CHANGELIST = "/admin/apikeys/apikey/"


def test_operators_list_keys_without_their_secrets(admin_client_, alice, bob):
    alices, bobs = make_key(alice, label="alice bot"), make_key(bob, label="bob bot")

    page = admin_client_.get(CHANGELIST)
    assert page.status_code == 200
    assert b"alice bot" in page.content and b"bob bot" in page.content
    detail = admin_client_.get(f"{CHANGELIST}{alices.key.id}/change/")
    assert detail.status_code == 200 and alices.key.api_key.encode() in detail.content
    for created in (alices, bobs):
        assert created.secret.encode() not in page.content + detail.content
    assert ApiKey.objects.get(id=alices.key.id).encrypted_secret.encode() not in detail.content
    assert admin_client_.get(f"{CHANGELIST}add/").status_code == 403


def test_an_operator_revokes_a_key_with_a_reason_and_it_is_audited(admin_client_, staff, alice):
    created = make_key(alice)
    client = signed_client(created)
    assert client.get("/api/v1/balances").status_code == 200

    asked = admin_client_.post(CHANGELIST, {"action": "revoke", ACTION_CHECKBOX_NAME: [created.key.id]})
    assert asked.status_code == 200 and b'name="reason"' in asked.content
    assert ApiKey.objects.get(id=created.key.id).revoked_at is None

    done = admin_client_.post(
        CHANGELIST,
        {"action": "revoke", ACTION_CHECKBOX_NAME: [created.key.id], "apply": "1", "reason": "leaked on a forum"},
        follow=True, REMOTE_ADDR="203.0.113.9",
    )
    assert b"Revoked 1 API key(s)." in done.content
    assert ApiKey.objects.get(id=created.key.id).revoked_at is not None
    entry = AuditLog.objects.get(actor=staff, action="apikey.revoke")
    assert entry.target == f"apikey:{created.key.id}" and entry.ip == "203.0.113.9"
    assert entry.payload["reason"] == "leaked on a forum" and entry.payload["user_id"] == alice.id
    assert created.secret not in str(entry.payload)
    assert_error_body(client.get("/api/v1/balances"), 401, "INVALID_API_KEY")
