"""orders.services.cancel_all_orders: the emergency stop for one user."""

from __future__ import annotations

import pytest

from matching.models import EngineCommand
from orders.services import cancel_all_orders
from riskadmin import errors
from riskadmin.models import AuditLog
from tests.factories import place
from tests.support.matcher import process
from tests.support.state import balance


def test_cancel_all_journals_a_cancel_for_every_live_order_stops_included(symbol, alice, bob, operator):
    resting = place(alice, symbol, "BUY", "1", "100.00")
    partly = place(alice, symbol, "SELL", "2", "200.00")
    stop = place(alice, symbol, "SELL", "1", None, type="STOP_MARKET", stop_price="90.00")
    place(bob, symbol, "BUY", "1", "200.00")
    process(symbol)
    pending = place(alice, symbol, "BUY", "1", "101.00")  # not yet seen by the matcher
    filled = place(alice, symbol, "BUY", "0.5", "300.00")
    place(bob, symbol, "SELL", "0.5", "300.00")
    process(symbol)  # `filled` is final now
    pending_2 = place(alice, symbol, "BUY", "1", "102.00")

    result = cancel_all_orders(user_id=alice.id, actor=operator, reason="account compromised")

    assert result == {"cancelled": 5, "total": 5}
    cancels = EngineCommand.objects.filter(kind="CANCEL", processed_at__isnull=True)
    assert set(cancels.values_list("order_id", flat=True)) == {resting.id, partly.id, stop.id, pending.id, pending_2.id}
    assert set(cancels.values_list("reason", flat=True)) == {"account compromised"}
    assert filled.id not in set(cancels.values_list("order_id", flat=True))


def test_after_the_matcher_applies_them_nothing_is_live_and_funds_are_released(symbol, alice, operator):
    place(alice, symbol, "BUY", "1", "100.00")
    place(alice, symbol, "SELL", "1", None, type="STOP_MARKET", stop_price="90.00")
    process(symbol)

    cancel_all_orders(user_id=alice.id, actor=operator, reason="emergency")
    process(symbol)

    assert not alice.orders.filter(status__in=("PENDING", "UNTRIGGERED", "OPEN", "PARTIALLY_FILLED")).exists()
    assert balance(alice, "USDT")[1] == 0 and balance(alice, "BTC")[1] == 0


def test_cancel_all_with_nothing_live_is_zero_of_zero_and_audited(alice, operator):
    assert cancel_all_orders(user_id=alice.id, actor=operator, reason="check") == {"cancelled": 0, "total": 0}
    entry = AuditLog.objects.get(action="orders.cancel_all")
    assert entry.target == f"user:{alice.id}"
    assert entry.payload["reason"] == "check"


def test_cancel_all_for_an_unknown_user_is_not_found(db, operator):
    with pytest.raises(errors.UserNotFound):
        cancel_all_orders(user_id=999999, actor=operator, reason="x")
