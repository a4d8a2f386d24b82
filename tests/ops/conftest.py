from __future__ import annotations

import pytest
from django.db import connection

from tests.conftest import client_for
from tests.factories import make_user
from tradeengine.redis import get_redis


@pytest.fixture
def operator_api(db):
    return client_for(make_user("operator", is_staff=True))


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
