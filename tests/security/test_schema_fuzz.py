"""Property-based fuzzing of every operation in the OpenAPI schema: no input is a 5xx.

The schema is generated in-process (the same document /api/schema/ serves) and
the cases are sent to the WSGI app in this process, so they run on the test
database inside each test's transaction, with a funded trader's token.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, settings as hsettings
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import not_a_server_error

from tests.factories import make_user, place

MAX_EXAMPLES = 15
# Admin operations that change state are covered for access rules elsewhere;
# here they only see the trader's token (403), so a few examples suffice.
ADMIN_EXAMPLES = 3


def load_schema():
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(document)))
    loaded.app = get_wsgi_application()
    return loaded


SCHEMA = load_schema()
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


def test_the_schema_lists_the_contract_endpoints():
    paths = {op.path for op in OPERATIONS}
    for path in ("/api/v1/orders", "/api/v1/orders/{order_id}", "/api/v1/fills", "/api/v1/balances",
                 "/api/v1/account", "/api/v1/symbols", "/api/v1/orderbook/{symbol}", "/api/v1/trades/{symbol}",
                 "/api/v1/ticker/{symbol}", "/api/v1/candles/{symbol}", "/api/v1/auth/token",
                 "/api/v1/auth/token/refresh"):
        assert path in paths


@pytest.fixture
def keep_the_test_connection():
    """As Django's test client does: requests must not close the connection that
    holds the test transaction (it would look 'obsolete' inside an atomic block)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_no_input_is_a_server_error(keep_the_test_connection, symbol, alice, operation):
    trader = make_user("fuzzer", funds={"USDT": "1000000", "BTC": "100"})
    place(trader, symbol, "BUY", "1", "100", client_order_id="seed")
    place(alice, symbol, "SELL", "1", "200")
    headers = {"Authorization": f"Bearer {AccessToken.for_user(trader)}"}
    examples = ADMIN_EXAMPLES if operation.path.startswith("/api/v1/admin/") else MAX_EXAMPLES

    statuses = []

    @hsettings(max_examples=examples, deadline=None, derandomize=True, database=None,
               suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def run(case):
        response = case.call(headers=headers)
        statuses.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    run()
    # The token was accepted: the fuzz reached the views, not just the authenticator
    # (the token endpoints answer random credentials with 401, as they should).
    assert statuses
    if not operation.path.startswith("/api/v1/auth/"):
        assert set(statuses) != {401}
