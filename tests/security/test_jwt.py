"""Bearer tokens: anything but a valid, unexpired access token signed with our key is 401."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from .conftest import assert_error_body

# (method, path) of endpoints that need a token; public ones still reject a bad token.
PROTECTED = [
    ("get", "/api/v1/account"),
    ("get", "/api/v1/balances"),
    ("get", "/api/v1/orders"),
    ("post", "/api/v1/orders"),
    ("get", "/api/v1/orders/1"),
    ("delete", "/api/v1/orders/1"),
    ("get", "/api/v1/fills"),
    ("get", "/api/v1/admin/stats"),
]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def call(client: APIClient, method: str, path: str):
    if method == "post":
        return client.post(path, {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "1"}, format="json")
    return getattr(client, method)(path)


def with_header(value: str | None) -> APIClient:
    client = APIClient()
    if value is not None:
        client.credentials(HTTP_AUTHORIZATION=value)
    return client


def expired_token(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(minutes=5))
    return str(token)


def tampered_token(user, other) -> str:
    """The payload now names another user; the signature is the original one."""
    header, payload, signature = str(AccessToken.for_user(user)).split(".")
    claims = json.loads(unb64(payload))
    claims[django_settings.SIMPLE_JWT.get("USER_ID_CLAIM", "user_id")] = str(other.id) if isinstance(claims.get("user_id"), str) else other.id
    return ".".join([header, b64(json.dumps(claims).encode()), signature])


def flipped_byte_token(user) -> str:
    header, payload, signature = str(AccessToken.for_user(user)).split(".")
    raw = bytearray(unb64(payload))
    raw[len(raw) // 2] ^= 0x01
    return ".".join([header, b64(bytes(raw)), signature])


def foreign_key_token(user) -> str:
    claims = dict(AccessToken.for_user(user).payload)
    return jwt.encode(claims, "another-signing-key-not-ours-0123456789", algorithm="HS256")


def alg_none_token(user) -> str:
    claims = dict(AccessToken.for_user(user).payload)
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


def bad_headers(alice, bob) -> dict[str, str | None]:
    return {
        "missing": None,
        "empty bearer": "Bearer ",
        "malformed": "Bearer not.a.jwt",
        "garbage": "Bearer abc",
        "wrong scheme": f"Basic {base64.b64encode(b'alice:pass-word-123').decode()}",
        "expired": f"Bearer {expired_token(alice)}",
        "tampered payload": f"Bearer {tampered_token(alice, bob)}",
        "flipped byte": f"Bearer {flipped_byte_token(alice)}",
        "other key": f"Bearer {foreign_key_token(alice)}",
        "alg none": f"Bearer {alg_none_token(alice)}",
        "alg none, no dot": f"Bearer {alg_none_token(alice).rstrip('.')}",
        "refresh as access": f"Bearer {RefreshToken.for_user(alice)}",
    }


@pytest.mark.parametrize("method,path", PROTECTED)
def test_every_bad_token_is_401_with_the_error_body(symbol, alice, bob, method, path):
    for name, header in bad_headers(alice, bob).items():
        response = call(with_header(header), method, path)
        assert_error_body(response, 401, "NOT_AUTHENTICATED")
        assert "WWW-Authenticate" in response, name


def test_public_endpoints_ignore_a_bad_token_and_answer_as_to_anyone(symbol, alice, bob):
    # Market data does not authenticate: a forged token gains nothing there.
    anonymous = APIClient().get("/api/v1/symbols").json()
    for header in bad_headers(alice, bob).values():
        response = with_header(header).get("/api/v1/symbols")
        assert response.status_code == 200
        assert response.json() == anonymous


def test_the_valid_token_works_and_names_its_own_user(symbol, alice, bob):
    response = with_header(f"Bearer {AccessToken.for_user(alice)}").get("/api/v1/account")
    assert response.status_code == 200
    assert response.json()["id"] == alice.id


def test_a_token_of_a_deactivated_user_is_401(alice):
    token = AccessToken.for_user(alice)
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert_error_body(with_header(f"Bearer {token}").get("/api/v1/account"), 401, "NOT_AUTHENTICATED")


def test_a_token_of_a_deleted_user_is_401(db):
    from tests.factories import make_user

    ghost = make_user("ghost")
    token = AccessToken.for_user(ghost)
    ghost.delete()
    assert_error_body(with_header(f"Bearer {token}").get("/api/v1/account"), 401, "NOT_AUTHENTICATED")


def test_the_refresh_endpoint_refuses_an_access_token(alice):
    response = APIClient().post("/api/v1/auth/token/refresh", {"refresh": str(AccessToken.for_user(alice))}, format="json")
    assert_error_body(response, 401)


def test_the_token_endpoint_refuses_a_wrong_password_with_401(alice):
    response = APIClient().post("/api/v1/auth/token", {"username": "alice", "password": "wrong"}, format="json")
    assert_error_body(response, 401)
    assert "access" not in response.json()
