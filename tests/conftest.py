"""Shared fixtures: a market with funded traders on the real database."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from core.redis import get_redis
from marketdata import publisher
from tradeengine.celery import app as celery_app

from .factories import make_symbol, make_user

# The whole-run deadline and the exit guard (see run_guard for the knobs).
from .support.run_guard import pytest_exception_interact, pytest_sessionstart, pytest_unconfigure  # noqa: F401

# In-process tests settle trades inline; end-to-end tests run real processes.
celery_app.conf.task_always_eager = True
celery_app.conf.task_eager_propagates = True

FUNDS = {"USDT": "1000000", "BTC": "100"}


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The real hasher costs ~0.25 s per user created; no test needs its strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def no_publisher_thread_left():
    """A test whose matcher published leaves no publishing thread behind to
    write into the next test's Redis keys or to outlive the run."""
    yield
    assert publisher.shutdown(), "the market data publisher thread did not stop"


@pytest.fixture
def symbol(db):
    return make_symbol("BTC/USDT")


@pytest.fixture
def alice(db):
    return make_user("alice", funds=FUNDS)


@pytest.fixture
def bob(db):
    return make_user("bob", funds=FUNDS)


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


@pytest.fixture
def alice_api(alice) -> APIClient:
    return client_for(alice)


@pytest.fixture
def bob_api(bob) -> APIClient:
    return client_for(bob)


@pytest.fixture
def operator(db):
    return make_user("operator", is_staff=True)


@pytest.fixture
def operator_api(operator) -> APIClient:
    return client_for(operator)


@pytest.fixture(autouse=True)
def rate_limits_off(settings):
    """No rate limit or login throttle unless a test sets its own: every
    in-process request comes from one address, and the shipped limits (and
    failed-login windows of 15 min) would couple tests and successive runs."""
    settings.RATE_LIMITS = {}
    settings.LOGIN_THROTTLE = {}


@pytest.fixture
def clean_rate_limits(db):
    """Forget the counters of earlier runs (user ids repeat between runs)."""
    client = get_redis()
    pattern = f"ratelimit:{connection.settings_dict['NAME']}:*"
    for key in client.scan_iter(match=pattern, count=500):
        client.delete(key)
    yield
    for key in client.scan_iter(match=pattern, count=500):
        client.delete(key)


@pytest.fixture
def staff(db):
    """A superuser, for the Django admin."""
    return get_user_model().objects.create_superuser("root", "root@example.com", "pass-word-123")


@pytest.fixture
def admin_client_(staff) -> Client:
    """The Django test client logged in as `staff`."""
    client = Client()
    client.force_login(staff)
    return client
