"""JWT authentication: obtaining and refreshing tokens, and the 401 body."""

from __future__ import annotations

from datetime import timedelta

from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

TOKEN_URL = "/api/v1/auth/token"
REFRESH_URL = "/api/v1/auth/token/refresh"
ACCOUNT_URL = "/api/v1/account"
PASSWORD = "pass-word-123"  # tests.factories.make_user's default


def bearer(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def assert_error_body(response, code: str) -> None:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)


def test_token_obtain_returns_an_access_and_a_refresh_token(alice):
    response = APIClient().post(TOKEN_URL, {"username": "alice", "password": PASSWORD}, format="json")

    assert response.status_code == 200
    assert set(response.json()) >= {"access", "refresh"}
    assert bearer(response.json()["access"]).get(ACCOUNT_URL).json()["username"] == "alice"


def test_token_obtain_with_a_wrong_password_is_401(alice):
    response = APIClient().post(TOKEN_URL, {"username": "alice", "password": "wrong"}, format="json")

    assert response.status_code == 401
    assert_error_body(response, "NOT_AUTHENTICATED")


def test_token_obtain_without_a_password_is_400(alice):
    response = APIClient().post(TOKEN_URL, {"username": "alice"}, format="json")

    assert response.status_code == 400
    assert_error_body(response, "VALIDATION_ERROR")
    assert "password" in response.json()["error"]["details"]


def test_token_refresh_returns_a_working_access_token(alice):
    refresh = str(RefreshToken.for_user(alice))

    response = APIClient().post(REFRESH_URL, {"refresh": refresh}, format="json")

    assert response.status_code == 200
    assert bearer(response.json()["access"]).get(ACCOUNT_URL).status_code == 200


def test_token_refresh_with_a_bad_token_is_401(db):
    response = APIClient().post(REFRESH_URL, {"refresh": "not-a-token"}, format="json")

    assert response.status_code == 401
    assert_error_body(response, "NOT_AUTHENTICATED")


def test_request_without_a_token_is_401_with_the_error_body(db):
    response = APIClient().get(ACCOUNT_URL)

    assert response.status_code == 401
    assert_error_body(response, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_request_with_a_malformed_token_is_401_with_the_error_body(db):
    response = bearer("garbage").get(ACCOUNT_URL)

    assert response.status_code == 401
    assert_error_body(response, "NOT_AUTHENTICATED")


def test_request_with_an_expired_token_is_401(alice):
    token = AccessToken.for_user(alice)
    token.set_exp(lifetime=-timedelta(seconds=1))

    response = bearer(token).get(ACCOUNT_URL)

    assert response.status_code == 401
    assert_error_body(response, "NOT_AUTHENTICATED")


def test_refresh_token_is_not_accepted_as_an_access_token(alice):
    response = bearer(RefreshToken.for_user(alice)).get(ACCOUNT_URL)

    assert response.status_code == 401


def test_orders_need_a_token(db):
    assert APIClient().get("/api/v1/orders").status_code == 401
    assert APIClient().post("/api/v1/orders", {}, format="json").status_code == 401
