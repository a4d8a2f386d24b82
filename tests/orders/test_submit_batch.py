"""orders.services.submit_batch: cancels before orders in one transaction,
items judged and funded in request order, funds freed by the batch's own
cancels usable by its orders, one bad item never failing the others, and
a constant number of statements whatever the batch's size."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import DomainError
from matching.models import EngineCommand
from orders.cancellation import CancelRef
from orders.models import Order
from orders.services import place_order, submit_batch
from riskadmin.models import Symbol
from riskadmin.selectors import find_symbol
from riskadmin.services import halt_symbol
from settlement import reconcile
from tests.factories import make_user, order_request, place
from tests.support.commands import run
from tests.support.matcher import process
from tests.support.state import balance, snapshot

D = Decimal


def codes(batch) -> tuple[list, list]:
    """Each item's error code, or None where it went through."""
    return (
        [r.error.code if r.error else None for r in batch.cancellations],
        [p.error.code if p.error else None for p in batch.placements],
    )


def statuses(*orders: Order) -> list[str]:
    return [Order.objects.get(id=o.id).status for o in orders]


def assert_books_balance() -> None:
    assert [r.name for r in reconcile.run_all() if not r.ok] == []


def test_orders_are_funded_in_request_order_and_the_one_beyond_the_balance_alone_is_refused(symbol):
    maker = make_user(funds={"USDT": "300"})
    orders = [order_request(symbol, "BUY", "1", "100.00") for _ in range(4)]

    batch = submit_batch(user=maker, cancels=[], orders=orders)

    assert codes(batch) == ([], [None, None, None, "INSUFFICIENT_BALANCE"])
    assert balance(maker, "USDT") == (D("0"), D("300"))
    assert EngineCommand.objects.filter(order__user=maker, kind="PLACE").count() == 3


def test_one_bad_item_never_fails_the_others(symbol, alice):
    resting = place(alice, symbol, "SELL", "1", "200.00")
    orders = [
        order_request(symbol, "BUY", "1", "100.00"),
        order_request(symbol, "BUY", "1", "100.005"),  # off tick
        order_request(symbol, "BUY", "0", "100.00"),
        order_request(symbol, "SELL", "1", "101.00"),
    ]
    refs = [CancelRef(999_999), CancelRef(resting.id), CancelRef(client_order_id="never-used")]

    batch = submit_batch(user=alice, cancels=refs, orders=orders)

    assert codes(batch) == (
        ["ORDER_NOT_FOUND", None, "ORDER_NOT_FOUND"],
        [None, "PRICE_NOT_ON_TICK", "INVALID_QUANTITY", None],
    )
    process(symbol)
    assert statuses(resting, batch.placements[0].order, batch.placements[3].order) == ["CANCELLED", "OPEN", "OPEN"]


def test_a_fully_invested_maker_requotes_with_the_funds_its_cancels_free(symbol):
    maker = make_user(funds={"USDT": "200"})
    old = [place(maker, symbol, "BUY", "1", "100.00", client_order_id=f"bid-{n}") for n in (1, 2)]
    process(symbol)
    assert balance(maker, "USDT") == (D("0"), D("200"))

    batch = submit_batch(
        user=maker,
        cancels=[CancelRef(client_order_id="bid-1"), CancelRef(old[1].id)],
        orders=[order_request(symbol, "BUY", "1", "99.00"), order_request(symbol, "BUY", "1", "98.00")],
    )

    assert codes(batch) == ([None, None], [None, None])
    process(symbol)
    assert statuses(*old) == ["CANCELLED", "CANCELLED"]
    assert statuses(*(p.order for p in batch.placements)) == ["OPEN", "OPEN"]
    assert balance(maker, "USDT") == (D("3"), D("197"))
    assert [Order.objects.get(id=p.order.id).locked_amount for p in batch.placements] == [D("99"), D("98")]
    assert_books_balance()


def test_orders_counting_on_a_cancelled_order_that_filled_first_are_rejected_in_request_order(transactional_db, symbol, bob):
    maker = make_user(funds={"USDT": "200"})
    bid = place(maker, symbol, "BUY", "2", "100.00")
    process(symbol)
    place(bob, symbol, "SELL", "1", "100.00")  # journaled before the batch: fills half the bid first

    batch = submit_batch(
        user=maker, cancels=[CancelRef(bid.id)],
        orders=[order_request(symbol, "BUY", "1", "100.00"), order_request(symbol, "BUY", "1", "100.00")],
    )
    assert codes(batch) == ([None], [None, None])  # the bid looked unfilled when the batch came
    process(symbol)

    first, second = (Order.objects.get(id=p.order.id) for p in batch.placements)
    assert (first.status, second.status, second.reject_reason) == ("OPEN", "REJECTED", "INSUFFICIENT_BALANCE")
    assert Order.objects.get(id=bid.id).status == "CANCELLED"
    assert balance(maker, "USDT") == (D("0"), D("100"))  # the trade's 100 is settled below
    assert_books_balance()
    out, err = run("verify_book", "--symbols", "BTC-USDT")
    assert "BTC/USDT OK" in out and err == ""


def test_a_batch_sent_again_places_nothing_new(symbol, alice):
    orders = [order_request(symbol, "BUY", "1", "100.00", client_order_id=f"q-{n}") for n in range(3)]
    first = submit_batch(user=alice, cancels=[], orders=orders)
    before = snapshot()

    again = submit_batch(user=alice, cancels=[], orders=orders)

    assert snapshot() == before
    assert [p.order.id for p in again.placements] == [p.order.id for p in first.placements]
    assert not again.placed_any


def test_the_same_client_order_id_twice_in_one_batch_refuses_the_second(symbol, alice):
    orders = [order_request(symbol, "BUY", "1", "100.00", client_order_id="same") for _ in range(2)]

    batch = submit_batch(user=alice, cancels=[], orders=orders)

    assert codes(batch) == ([], [None, "DUPLICATE_CLIENT_ORDER_ID"])


def test_more_than_fifty_of_a_kind_is_batch_too_large_and_applies_nothing(symbol, alice):
    resting = place(alice, symbol, "BUY", "1", "100.00")
    before = snapshot()

    with pytest.raises(DomainError) as refusal:
        submit_batch(user=alice, cancels=[CancelRef(resting.id)], orders=[order_request(symbol, "BUY", "1", "100.00")] * 51)

    assert refusal.value.code == "BATCH_TOO_LARGE"
    assert snapshot() == before


def test_a_halt_committed_after_the_request_was_read_refuses_its_orders(symbol, alice):
    other = place(alice, symbol, "BUY", "1", "100.00")
    halt_symbol(symbol=Symbol.objects.get(id=symbol.id), reason="maintenance", actor=alice)  # after the request was read
    batch = submit_batch(user=alice, cancels=[CancelRef(other.id)], orders=[order_request(symbol, "BUY", "1", "100.00")])

    assert codes(batch) == ([None], ["SYMBOL_HALTED"])


# -- statements ------------------------------------------------------------------


def statements(write) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        write()
    return [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]


def test_a_batch_of_fifty_takes_as_many_statements_as_a_batch_of_one(symbol, alice):
    resting = [place(alice, symbol, "SELL", "1", "200.00") for _ in range(50)]
    one = statements(lambda: submit_batch(
        user=alice, cancels=[CancelRef(resting[0].id)], orders=[order_request(symbol, "BUY", "1", "100.00")]
    ))
    fifty = statements(lambda: submit_batch(
        user=alice, cancels=[CancelRef(o.id) for o in resting[1:]], orders=[order_request(symbol, "BUY", "1", "100.00")] * 50
    ))

    # Orders to cancel; cancels waiting; the cancels; halted symbols; the
    # user's limits; balances; orders with their commands; locks with their
    # ledger lines.
    assert len(fifty) == len(one) == 8


def test_a_single_order_takes_five_statements(symbol, alice):
    symbol = find_symbol("BTC-USDT")  # as the API finds it: its limits joined
    # Halted symbols; the user's limits; balances; the order with its
    # command; the lock with its ledger lines (one more, the earlier order,
    # with a client_order_id).
    assert len(statements(lambda: place_order(user=alice, request=order_request(symbol, "BUY", "1", "100.00")))) == 5
