"""verify_book, run through call_command against the real database."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from orders.models import Order, Trade
from tests.factories import make_symbol, place
from tests.support.commands import run
from tests.support.matcher import process

# verify_book opens its own REPEATABLE READ transaction, so these tests run
# outside pytest-django's per-test transaction.


@pytest.fixture
def matched_book(transactional_db, symbol, alice, bob):
    place(alice, symbol, "SELL", "1", "101.00")
    place(alice, symbol, "SELL", "2", "102.00")
    place(bob, symbol, "BUY", "1.5", "102.00")
    place(bob, symbol, "BUY", "1", "99.00")
    cancelled = place(bob, symbol, "BUY", "1", "98.00")
    process(symbol)
    from orders.services import cancel_order

    cancel_order(user=bob, order_id=cancelled.id)
    process(symbol)
    return symbol


def test_verify_book_passes_for_what_the_matcher_stored(matched_book):
    make_symbol("ETH/USDT")
    out, err = run("verify_book")
    assert "BTC/USDT OK: 6 commands, 2 trades" in out
    assert "1 bid / 1 ask levels" in out
    assert "ETH/USDT OK: 0 commands, 0 trades" in out
    assert err == ""


def test_verify_book_reports_a_tampered_trade_and_order(matched_book):
    trade = Trade.objects.order_by("sequence").first()
    Trade.objects.filter(id=trade.id).update(quantity=trade.quantity + Decimal("0.001"))
    resting = Order.objects.get(price=Decimal("99.00"))
    Order.objects.filter(id=resting.id).update(filled_quantity=Decimal("0.5"), status="PARTIALLY_FILLED")
    with pytest.raises(CommandError, match="book verification failed for BTC/USDT"):
        run("verify_book", "--symbols", "BTC-USDT")


def test_verify_book_reports_its_mismatches(matched_book):
    resting = Order.objects.get(price=Decimal("99.00"))
    Order.objects.filter(id=resting.id).update(status="CANCELLED")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_book", stdout=StringIO(), stderr=err)
    text = err.getvalue()
    assert "BTC/USDT MISMATCH:" in text
    assert f"order {resting.id}: replay OPEN filled 0 lots, stored CANCELLED filled 0 lots" in text
    assert "bid level: replay has 1, stored has 0" in text


def test_verify_book_flags_a_processed_order_left_pending(matched_book, alice):
    order = place(alice, matched_book, "SELL", "1", "150.00")
    process(matched_book)
    Order.objects.filter(id=order.id).update(status="PENDING")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_book", stdout=StringIO(), stderr=err)
    assert f"order {order.id}: its command was processed but it is still PENDING" in err.getvalue()


def test_verify_book_refuses_an_unknown_symbol(transactional_db, symbol):
    with pytest.raises(CommandError, match="unknown symbol.*DOGE/USDT"):
        run("verify_book", "--symbols", "BTC/USDT,doge-usdt")
