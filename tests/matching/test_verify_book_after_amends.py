"""verify_book replays AMEND commands as the matcher applied them."""

from __future__ import annotations

from decimal import Decimal

from orders.services import amend_order
from tests.factories import place
from tests.support.commands import run
from tests.support.matcher import process

D = Decimal


def test_verify_book_is_clean_after_amends(transactional_db, symbol, alice, bob):
    kept = place(alice, symbol, "BUY", "3", "100.00")
    moved = place(alice, symbol, "BUY", "2", "100.00")
    stop = place(alice, symbol, "SELL", "1", "90.00", type="STOP_LIMIT", stop_price="91.00")
    seller = place(bob, symbol, "SELL", "2", "103.00")
    process(symbol)
    amend_order(user=alice, order_id=kept.id, quantity=D("2"))  # keeps its place
    amend_order(user=alice, order_id=moved.id, price=D("103.00"))  # crosses and fills
    amend_order(user=alice, order_id=stop.id, stop_price=D("95.00"), price=D("94.00"))
    amend_order(user=bob, order_id=seller.id, quantity=D("4"))  # filled by `moved` first: a no-op
    process(symbol)
    place(bob, symbol, "SELL", "1", "100.00")
    process(symbol)

    out, err = run("verify_book", "--symbols", "BTC-USDT")

    assert "BTC/USDT OK: 9 commands, 2 trades" in out
    assert err == ""
