"""The matcher is rung by the database: a committed command notifies its
symbol's channel, a rolled-back one does not."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection, transaction

from matching.services import NOTIFY_CHANNEL
from orders.services import cancel_order, place_order
from tests.factories import make_symbol, make_user, order_request

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listener():
    settings = connection.settings_dict
    conn = psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None, autocommit=True,
    )
    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
    yield conn
    conn.close()


def received(conn) -> list[str]:
    return [n.payload for n in conn.notifies(timeout=1, stop_after=10)]


def test_placing_and_cancelling_ring_the_symbols_channel(listener):
    symbol = make_symbol("BTC/USDT")
    other = make_symbol("ETH/USDT")
    alice = make_user("alice", funds={"USDT": "100000"})

    order, _ = place_order(user=alice, request=order_request(symbol, "BUY", "0.1", "20000.00"))
    assert received(listener) == [str(symbol.id)]

    cancel_order(user=alice, order_id=order.id)
    place_order(user=alice, request=order_request(other, "BUY", "1", "1000.00"))
    assert received(listener) == [str(symbol.id), str(other.id)]


def test_a_rolled_back_order_rings_nothing(listener):
    symbol = make_symbol("BTC/USDT")
    alice = make_user("alice", funds={"USDT": "100000"})

    with pytest.raises(RuntimeError), transaction.atomic():
        place_order(user=alice, request=order_request(symbol, "BUY", "0.1", "20000.00"))
        raise RuntimeError("the caller's transaction fails after the order was written")

    assert received(listener) == []
