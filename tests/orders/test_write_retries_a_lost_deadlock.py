"""A request's write that loses a deadlock with the matcher runs again.

An amend, or a batch's cancels, lock orders, then their owner's balance; a
matcher batch may hold that balance (it released a finished order's funds)
and then want the order. PostgreSQL aborts one of the two: when it is the
request's, the request was rolled back whole and runs again, instead of
answering 503.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from matching.models import EngineCommand
from orders.cancellation import CancelRef
from orders.services import amend_order, submit_batch
from tests.factories import make_symbol, make_user, order_request, place
from tests.support.matcher import process
from tests.support.polling import wait_until
from tests.support.sessions import connect, waiting_for_locks
from tests.support.state import balance

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def test_an_amend_that_loses_a_deadlock_runs_again_and_is_journaled_once():
    symbol = make_symbol("BTC/USDT")
    alice = make_user("alice", funds={"USDT": "100000"})
    order = place(alice, symbol, "BUY", "1", "100.00")
    process(symbol)

    answered = race_the_matcher(alice, order, lambda: amend_order(user=alice, order_id=order.id, quantity=D("2"), price=D("100.00")))

    assert "error" not in answered, answered
    assert EngineCommand.objects.filter(order_id=order.id, kind=EngineCommand.Kind.AMEND).count() == 1
    assert balance(alice, "USDT") == (D("99800"), D("200"))


def test_a_batch_that_loses_a_deadlock_runs_again(caplog):
    symbol = make_symbol("BTC/USDT")
    alice = make_user("alice", funds={"USDT": "100000"})
    order = place(alice, symbol, "BUY", "1", "100.00")
    process(symbol)

    answered = race_the_matcher(alice, order, lambda: submit_batch(
        user=alice, cancels=[CancelRef(order.id)], orders=[order_request(symbol, "BUY", "1", "99.00")]
    ))

    assert "error" not in answered, answered
    assert "broken by a deadlock" in caplog.text  # it did lose once
    assert [p.error for p in answered["result"].placements] == [None]
    assert balance(alice, "USDT") == (D("99801"), D("199"))  # both locked until the matcher cancels the first


def race_the_matcher(alice, order, write) -> dict:
    """Run `write` in a thread while another transaction, as a matcher batch
    would, holds alice's balance row and then wants `order`'s row, which
    `write` locks before the balance. Returns {"result"} or {"error"}."""
    answered: dict = {}

    def run() -> None:
        try:
            answered["result"] = write()
        except Exception as exc:  # reported by the test's thread
            answered["error"] = exc
        finally:
            connection.close()

    with connect() as matcher, connect() as observer:
        observer.autocommit = True
        matcher.execute("UPDATE settlement_balance SET updated_at = now() WHERE user_id = %s AND asset = 'USDT'", (alice.id,))
        writing = threading.Thread(target=run)
        writing.start()
        wait_until(lambda: waiting_for_locks(observer) == 1, timeout=10, what="the request to wait for alice's balance row")
        # ... and now wants the order the request holds: a deadlock, which the
        # request (waiting first, so checking first) loses.
        matcher.execute("UPDATE orders_order SET updated_at = now() WHERE id = %s", (order.id,))
        matcher.commit()
        writing.join(timeout=30)
    assert not writing.is_alive()
    return answered
