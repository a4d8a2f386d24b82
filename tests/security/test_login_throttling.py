"""Password guessing at POST /api/v1/auth/token and /admin/login/: a handful
of failures per username and address, then 429 with Retry-After until the
window closes; the owner, from his own address, is never locked out."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from tests.e2e.conftest import wait_until
from tradeengine import throttling
from tradeengine.login_throttle import api_refusal, login_throttled

from .conftest import assert_error_body

PASSWORD = "pass-word-123"  # tests.factories.make_user's default
STRANGER, OWNER = "203.0.113.66", "198.51.100.7"
SHIPPED = {"ip": "20/15min", "username": "5/15min"}


def api_login(username: str, password: str, *, ip: str):
    return APIClient().post("/api/v1/auth/token", {"username": username, "password": password}, format="json",
                            REMOTE_ADDR=ip)


def admin_login(username: str, password: str, *, ip: str):
    return Client().post("/admin/login/", {"username": username, "password": password, "next": "/admin/"},
                         REMOTE_ADDR=ip)


def api_outcome(response) -> str:
    return {200: "in", 401: "wrong", 429: "throttled"}[response.status_code]


def admin_outcome(response) -> str:
    # A wrong password shows the form again (200); a login redirects.
    return {200: "wrong", 302: "in", 429: "throttled"}[response.status_code]


FORMS = {"api": (api_login, api_outcome), "admin": (admin_login, admin_outcome)}


@pytest.fixture
def throttle(settings, clean_rate_limits):
    settings.LOGIN_THROTTLE = dict(SHIPPED)
    return settings


@pytest.fixture
def owner(operator):
    return operator  # staff, so the admin login works too; password PASSWORD


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 15 * 60


@pytest.mark.parametrize("form", FORMS)
def test_forty_guesses_try_at_most_a_handful(throttle, owner, form):
    login, outcome = FORMS[form]
    answers = [login(owner.username, f"guess-{i}", ip=STRANGER) for i in range(40)]

    tried = [r for r in answers if outcome(r) == "wrong"]
    assert len(tried) <= 10
    assert [outcome(r) for r in answers] == ["wrong"] * len(tried) + ["throttled"] * (40 - len(tried))
    for response in answers[len(tried):]:
        assert_throttled(response)
    # The password is not even checked now, so the right one does not get in either.
    assert outcome(login(owner.username, PASSWORD, ip=STRANGER)) == "throttled"


def test_the_api_refusal_is_the_error_body_with_retry_after(throttle, owner):
    for i in range(5):
        api_login(owner.username, f"guess-{i}", ip=STRANGER)
    refused = api_login(owner.username, f"guess-{i}", ip=STRANGER)
    assert_error_body(refused, 429, "RATE_LIMITED")
    assert_throttled(refused)
    assert refused.json()["error"]["details"]["retry_after"] == int(refused["Retry-After"])


def test_the_admin_refusal_is_a_page_with_retry_after(throttle, owner):
    for i in range(5):
        admin_login(owner.username, f"guess-{i}", ip=STRANGER)
    refused = admin_login(owner.username, "guess-again", ip=STRANGER)
    assert_throttled(refused)
    assert b"Too many failed logins" in refused.content


@pytest.mark.parametrize("form", FORMS)
def test_the_owner_logs_in_from_his_address_while_a_stranger_hammers_his_username(throttle, owner, form):
    login, outcome = FORMS[form]
    for i in range(40):
        login(owner.username, f"guess-{i}", ip=STRANGER)
    assert outcome(login(owner.username, "guess", ip=STRANGER)) == "throttled"

    assert outcome(login(owner.username, PASSWORD, ip=OWNER)) == "in"
    assert outcome(login(owner.username, "a typo", ip=OWNER)) == "wrong"  # his own budget is untouched


def test_case_variants_of_a_username_share_its_counter(throttle, owner):
    for i in range(5):
        api_login(owner.username, f"guess-{i}", ip=STRANGER)
    assert api_outcome(api_login(owner.username.upper(), "guess", ip=STRANGER)) == "throttled"


def test_a_success_does_not_count(throttle, owner):
    for i in range(4):
        assert api_outcome(api_login(owner.username, f"guess-{i}", ip=OWNER)) == "wrong"
    assert api_outcome(api_login(owner.username, PASSWORD, ip=OWNER)) == "in"
    assert api_outcome(api_login(owner.username, "guess-5", ip=OWNER)) == "wrong"  # the fifth failure
    assert api_outcome(api_login(owner.username, "guess-6", ip=OWNER)) == "throttled"


def test_a_request_that_never_reaches_the_password_check_does_not_count(throttle, owner):
    for _ in range(10):
        no_password = APIClient().post("/api/v1/auth/token", {"username": owner.username}, format="json",
                                       REMOTE_ADDR=OWNER)
        assert no_password.status_code == 400
    assert api_outcome(api_login(owner.username, PASSWORD, ip=OWNER)) == "in"


def test_one_address_is_limited_across_usernames(throttle, db):
    throttle.LOGIN_THROTTLE = {"ip": "3/15min", "username": "5/15min"}
    assert [api_outcome(api_login(f"nobody{i}", "guess", ip=STRANGER)) for i in range(4)] == [
        "wrong", "wrong", "wrong", "throttled"]
    assert api_outcome(api_login("nobody9", "guess", ip=OWNER)) == "wrong"  # other addresses are not


def test_the_block_lifts_when_the_window_closes(throttle, owner):
    throttle.LOGIN_THROTTLE = {"ip": "", "username": "2/2s"}
    for i in range(2):
        assert api_outcome(api_login(owner.username, f"guess-{i}", ip=STRANGER)) == "wrong"
    assert api_outcome(api_login(owner.username, PASSWORD, ip=STRANGER)) == "throttled"

    # Refused attempts count nowhere, so polling does not hold the block up.
    wait_until(lambda: api_outcome(api_login(owner.username, PASSWORD, ip=STRANGER)) == "in",
               timeout=10, what="the login window to close")


def test_an_attempt_counts_while_its_password_is_being_checked(throttle):
    """Parallel guesses cannot slip past: the attempt is counted before the
    check, so a second one arriving meanwhile already sees it."""
    throttle.LOGIN_THROTTLE = {"ip": "", "username": "1/15min"}
    factory = RequestFactory()
    overlapping: list[int] = []

    def checking_a_password(request):
        overlapping.append(throttled_view(factory.post("/login", {"username": "alice"}, REMOTE_ADDR=STRANGER)).status_code)
        return HttpResponse(status=401)

    throttled_view = login_throttled(checking_a_password, refused=api_refusal)
    throttled_view(factory.post("/login", {"username": "alice"}, REMOTE_ADDR=STRANGER))
    assert overlapping == [429]


def test_logins_go_on_when_redis_is_down(throttle, monkeypatch, owner):
    class Down:
        def register_script(self, script):
            raise ConnectionError("redis is down")

    monkeypatch.setattr(throttling, "get_redis", lambda: Down())
    for i in range(10):
        assert api_outcome(api_login(owner.username, f"guess-{i}", ip=STRANGER)) == "wrong"
    assert api_outcome(api_login(owner.username, PASSWORD, ip=STRANGER)) == "in"
