"""POST and DELETE answering after the matcher applied their command.

A matcher thread needs to see what the request committed, so these tests
run outside the per-test transaction (transactional_db) with a Matcher
polling in a background thread, as the matcher process would.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from core.redis import get_redis
from matching.host import Matcher
from matching.services import DONE_KEY_TEMPLATE
from tests.factories import place

ORDERS = "/api/v1/orders"


def forget_stale_announcements() -> None:
    # The test database is recreated on every run, so command ids repeat;
    # "done" keys a previous run left behind must not answer for new commands.
    pattern = DONE_KEY_TEMPLATE.format(database=connection.settings_dict["NAME"], command_id="*")
    redis = get_redis()
    for key in redis.scan_iter(match=pattern):
        redis.delete(key)


@pytest.fixture
def matcher_thread(transactional_db, symbol, settings):
    settings.ORDER_RESULT_TIMEOUT = 10  # an upper bound: the answer comes as soon as the batch commits
    forget_stale_announcements()
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            matcher = Matcher([symbol.id])
            while not stop.is_set():
                if not matcher.process_batch():
                    stop.wait(0.005)
        except BaseException as exc:  # reported by the fixture, not lost in the thread
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert not failures


def test_place_answers_201_with_the_order_as_matched(matcher_thread, symbol, bob, alice_api):
    place(bob, symbol, "SELL", "1", "50000.00")
    order = {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "50000"}

    response = alice_api.post(ORDERS, order, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["filled_quantity"], body["remaining_quantity"]) == ("FILLED", "1.000", "0.000")
    assert [(f["price"], f["quantity"], f["liquidity"]) for f in body["fills"]] == [("50000.00", "1.000", "TAKER")]


def test_cancel_answers_200_with_the_order_cancelled(matcher_thread, symbol, alice_api):
    order = {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "40000"}
    placed = alice_api.post(ORDERS, order, format="json")
    assert (placed.status_code, placed.json()["status"]) == (201, "OPEN")

    response = alice_api.delete(f"{ORDERS}/{placed.json()['id']}")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["cancel_reason"]) == ("CANCELLED", "Cancelled by user")
