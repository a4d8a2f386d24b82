"""A request's write that loses a deadlock with the matcher runs again.

An amend locks its order, then its owner's balance; a matcher batch may
hold that balance (it released a finished order's funds) and then want the
order. PostgreSQL aborts one of the two: when it is the request's, the
request was rolled back whole and runs again, instead of answering 503.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import psycopg
import pytest
from django.db import connection

from matching.models import EngineCommand
from orders.services import amend_order
from tests.factories import make_symbol, make_user, place
from tests.support.matcher import process
from tests.support.polling import wait_until
from tests.support.state import balance

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def connect() -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
    )


def test_an_amend_that_loses_a_deadlock_runs_again_and_is_journaled_once():
    symbol = make_symbol("BTC/USDT")
    alice = make_user("alice", funds={"USDT": "100000"})
    order = place(alice, symbol, "BUY", "1", "100.00")
    process(symbol)

    answered: dict = {}

    def amend() -> None:
        try:
            answered["amend"] = amend_order(user=alice, order_id=order.id, quantity=D("2"), price=D("100.00"))
        except Exception as exc:  # reported by the test's thread
            answered["error"] = exc
        finally:
            connection.close()

    with connect() as matcher, connect() as observer:
        observer.autocommit = True
        # As a matcher batch that released funds of alice's: her balance row is held.
        matcher.execute("UPDATE settlement_balance SET updated_at = now() WHERE user_id = %s AND asset = 'USDT'",
                        (alice.id,))
        amending = threading.Thread(target=amend)
        amending.start()
        wait_until(
            lambda: observer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()[0] == 1,
            timeout=10, what="the amend to wait for alice's balance row",
        )
        # ... and now wants the order the amend holds: a deadlock, which the amend
        # (waiting first, so checking first) loses.
        matcher.execute("UPDATE orders_order SET updated_at = now() WHERE id = %s", (order.id,))
        matcher.commit()
        amending.join(timeout=30)

    assert not amending.is_alive()
    assert "error" not in answered, answered
    assert EngineCommand.objects.filter(order_id=order.id, kind=EngineCommand.Kind.AMEND).count() == 1
    assert balance(alice, "USDT") == (D("99800"), D("200"))
