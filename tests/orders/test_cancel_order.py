"""orders.services.cancel_order: journals a cancel for the matcher."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from django.db import connection, transaction

from core.errors import DomainError
from matching.models import EngineCommand
from orders.services import cancel_order
from tests.factories import place
from tests.support.matcher import process
from tests.support.state import balance, snapshot

D = Decimal


def test_cancel_writes_an_unprocessed_cancel_command(symbol, alice):
    order = place(alice, symbol, "BUY", "1", "50000.00")
    process(symbol)

    cancelled, command = cancel_order(user=alice, order_id=order.id)

    assert cancelled.id == order.id
    assert (command.kind, command.order_id, command.symbol_id) == ("CANCEL", order.id, symbol.id)
    assert (command.reason, command.processed_at) == ("Cancelled by user", None)


def test_cancel_leaves_the_order_and_its_lock_alone_until_the_matcher_applies_it(symbol, alice):
    order = place(alice, symbol, "BUY", "1", "50000.00")
    process(symbol)

    cancel_order(user=alice, order_id=order.id)

    order.refresh_from_db()
    assert order.status == "OPEN"
    assert balance(alice, "USDT") == (D("950000"), D("50000"))


def test_applied_cancel_ends_the_order_and_releases_its_lock(symbol, alice):
    order = place(alice, symbol, "BUY", "1", "50000.00")
    process(symbol)
    cancel_order(user=alice, order_id=order.id)

    process(symbol)

    order.refresh_from_db()
    assert (order.status, order.cancel_reason) == ("CANCELLED", "Cancelled by user")
    assert balance(alice, "USDT") == (D("1000000"), D("0"))


def test_cancelled_untriggered_stop_releases_its_lock(symbol, alice):
    stop = place(alice, symbol, "BUY", "1", type="STOP_MARKET", stop_price="60000.00")
    process(symbol)
    cancel_order(user=alice, order_id=stop.id)

    process(symbol)

    stop.refresh_from_db()
    assert (stop.status, stop.cancel_reason) == ("CANCELLED", "Cancelled by user")
    assert balance(alice, "USDT") == (D("1000000"), D("0"))


def test_order_cancelled_before_the_matcher_saw_it_never_trades(symbol, alice, bob):
    order = place(alice, symbol, "BUY", "1", "50000.00")
    cancel_order(user=alice, order_id=order.id)
    place(bob, symbol, "SELL", "1", "50000.00")

    process(symbol)

    order.refresh_from_db()
    assert (order.status, order.filled_quantity) == ("CANCELLED", D("0"))
    assert balance(alice, "USDT") == (D("1000000"), D("0"))


def test_cancel_of_a_filled_order_is_refused(symbol, alice, bob):
    order = place(alice, symbol, "BUY", "1", "50000.00")
    place(bob, symbol, "SELL", "1", "50000.00")
    process(symbol)
    before = snapshot()

    with pytest.raises(DomainError) as refusal:
        cancel_order(user=alice, order_id=order.id)

    assert (refusal.value.code, refusal.value.status) == ("ORDER_NOT_CANCELLABLE", 409)
    assert snapshot() == before


def test_cancel_of_a_cancelled_order_is_refused(symbol, alice):
    order = place(alice, symbol, "BUY", "1", "50000.00", time_in_force="IOC")
    process(symbol)  # nothing to match: the IOC ends cancelled

    with pytest.raises(DomainError) as refusal:
        cancel_order(user=alice, order_id=order.id)

    assert refusal.value.code == "ORDER_NOT_CANCELLABLE"


def test_cancel_of_another_users_order_is_not_found(symbol, alice, bob):
    order = place(alice, symbol, "BUY", "1", "50000.00")
    before = snapshot()

    with pytest.raises(DomainError) as refusal:
        cancel_order(user=bob, order_id=order.id)

    assert (refusal.value.code, refusal.value.status) == ("ORDER_NOT_FOUND", 404)
    assert snapshot() == before


def test_cancel_of_an_order_that_does_not_exist_is_not_found(db, alice):
    with pytest.raises(DomainError) as refusal:
        cancel_order(user=alice, order_id=987654321)

    assert refusal.value.code == "ORDER_NOT_FOUND"


def test_second_cancel_while_one_is_pending_returns_the_same_command(symbol, alice):
    order = place(alice, symbol, "BUY", "1", "50000.00")
    _, first = cancel_order(user=alice, order_id=order.id)

    _, second = cancel_order(user=alice, order_id=order.id)

    assert second.id == first.id
    assert EngineCommand.objects.filter(order=order, kind="CANCEL").count() == 1


def test_cancel_does_not_wait_for_a_lock_on_the_symbol(transactional_db, symbol, alice):
    # The matcher holds the symbol row while a batch with trades commits
    # (it writes last_price); a cancel must only lock the order itself.
    order = place(alice, symbol, "BUY", "1", "50000.00")
    other = psycopg.connect(**connection.get_connection_params(), autocommit=False)
    try:
        # What a matcher batch with trades does, until it commits.
        other.execute("UPDATE riskadmin_symbol SET last_price = 50000 WHERE id = %s", [symbol.id])
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '500ms'")
            _, command = cancel_order(user=alice, order_id=order.id)
    finally:
        other.rollback()
        other.close()

    assert command.kind == "CANCEL"
