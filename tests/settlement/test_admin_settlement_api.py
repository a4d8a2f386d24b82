"""Operator endpoints of settlement: POST /api/v1/admin/deposits and
GET /api/v1/admin/settlement/queue (staff only)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from orders.models import Trade
from settlement.models import Balance
from tests.conftest import client_for
from tests.factories import make_user, place
from tests.support.matcher import process
from tests.support.state import balance

D = Decimal
DEPOSITS = "/api/v1/admin/deposits"
QUEUE = "/api/v1/admin/settlement/queue"
pytestmark = pytest.mark.django_db


@pytest.fixture
def carol():
    return make_user("carol")


# -- deposits ----------------------------------------------------------------------


def test_staff_deposit_is_created_and_credits_the_available_balance(operator_api, carol):
    response = operator_api.post(DEPOSITS, {"user_id": carol.id, "asset": "usdt", "amount": "250.5", "reference": "wire-1"}, format="json")

    assert response.status_code == 201
    assert response.json() == {"user_id": carol.id, "asset": "USDT", "available": "250.5", "locked": "0"}
    assert balance(carol, "USDT") == (D("250.5"), D("0"))


def test_a_repeated_deposit_reference_credits_once(operator_api, carol):
    body = {"user_id": carol.id, "asset": "BTC", "amount": "1.25", "reference": "chain-tx-9"}

    first = operator_api.post(DEPOSITS, body, format="json")
    second = operator_api.post(DEPOSITS, body, format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["available"] == "1.25"
    assert balance(carol, "BTC") == (D("1.25"), D("0"))


def test_a_deposit_reference_reused_for_another_user_is_a_409(operator_api, carol):
    dave = make_user("dave")
    operator_api.post(DEPOSITS, {"user_id": carol.id, "asset": "BTC", "amount": "1", "reference": "chain-tx-9"}, format="json")

    response = operator_api.post(DEPOSITS, {"user_id": dave.id, "asset": "BTC", "amount": "1", "reference": "chain-tx-9"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "DEPOSIT_REFERENCE_CONFLICT"
    assert balance(dave, "BTC") == (D("0"), D("0"))


def test_deposits_without_a_reference_each_credit(operator_api, carol):
    for _ in range(2):
        operator_api.post(DEPOSITS, {"user_id": carol.id, "asset": "BTC", "amount": "1"}, format="json")

    assert balance(carol, "BTC") == (D("2"), D("0"))


def test_a_trader_may_not_deposit(alice_api, alice):
    response = alice_api.post(DEPOSITS, {"user_id": alice.id, "asset": "BTC", "amount": "1000"}, format="json")

    assert response.status_code == 403
    assert balance(alice, "BTC") == (D("100"), D("0"))


def test_an_unauthenticated_deposit_is_refused(carol):
    response = APIClient().post(DEPOSITS, {"user_id": carol.id, "asset": "BTC", "amount": "1"}, format="json")

    assert response.status_code == 401
    assert balance(carol, "BTC") == (D("0"), D("0"))


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1e400", "0.0000000000000000001"])
def test_a_deposit_with_a_bad_amount_is_a_400_and_credits_nothing(operator_api, carol, amount):
    response = operator_api.post(DEPOSITS, {"user_id": carol.id, "asset": "BTC", "amount": amount}, format="json")

    assert response.status_code == 400
    assert balance(carol, "BTC") == (D("0"), D("0"))


@pytest.mark.parametrize(
    "fields", [{"asset": "B-TC", "amount": "1"}, {"amount": "1"}, {"asset": "BTC"}, {"asset": "BTC", "amount": "1", "user_id": 0}]
)
def test_a_deposit_with_missing_or_malformed_fields_is_a_400(operator_api, carol, fields):
    response = operator_api.post(DEPOSITS, {"user_id": carol.id, **fields}, format="json")

    assert response.status_code == 400
    assert balance(carol, "BTC") == (D("0"), D("0"))


def test_a_deposit_to_an_unknown_user_is_a_404(operator_api):
    response = operator_api.post(DEPOSITS, {"user_id": 987654, "asset": "BTC", "amount": "1"}, format="json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "USER_NOT_FOUND"


def test_a_deposit_to_an_unknown_user_answers_the_error_body_and_credits_nothing(operator_api):
    response = operator_api.post(DEPOSITS, {"user_id": 987654, "asset": "BTC", "amount": "1"}, format="json")

    assert response.json() == {"error": {"code": "USER_NOT_FOUND", "message": "No such user.", "details": {"user_id": 987654}}}
    assert not Balance.objects.filter(user_id=987654).exists()


# -- settlement queue ----------------------------------------------------------------


def test_the_queue_is_staff_only(alice_api):
    assert alice_api.get(QUEUE).status_code == 403
    assert APIClient().get(QUEUE).status_code == 401


def test_the_queue_shows_backlog_failures_latency_and_success_rate(operator_api, symbol, alice, bob):
    place(alice, symbol, "SELL", "3", "50000.00")
    place(bob, symbol, "BUY", "1", "50000.00")
    place(bob, symbol, "BUY", "1", "50000.00")
    process(symbol)  # two trades, settled
    Trade.objects.filter(id=Trade.objects.order_by("id").first().id).update(settlement_status="FAILED", settled_at=None)
    stuck = Trade.objects.order_by("id").last()
    Trade.objects.create(
        symbol=symbol, sequence=99, price=D("50000"), quantity=D("1"), quote_quantity=D("50000"), taker_side="BUY",
        maker_order_id=stuck.maker_order_id, taker_order_id=stuck.taker_order_id, buyer=bob, seller=alice,
        executed_at=timezone.now() - timedelta(seconds=5),
    )

    response = operator_api.get(QUEUE)

    assert response.status_code == 200
    stats = response.json()
    assert set(stats) == {"queue_size", "pending", "failed", "average_settlement_ms", "success_rate", "window_seconds"}
    assert (stats["pending"], stats["failed"], stats["success_rate"], stats["window_seconds"]) == (1, 1, 0.5, 3600)
    assert stats["average_settlement_ms"] >= 0
    assert stats["queue_size"] is None or stats["queue_size"] >= 0


def test_an_idle_queue_has_no_latency_or_success_rate(operator_api):
    stats = operator_api.get(QUEUE).json()

    assert (stats["pending"], stats["failed"], stats["average_settlement_ms"], stats["success_rate"]) == (0, 0, None, None)
