"""Operators override the venue's order rates and fees for one user (a
market maker), through the admin API, audited."""

from __future__ import annotations

from decimal import Decimal

from orders.models import Trade
from riskadmin.models import AuditLog
from riskadmin.services import set_user_limits
from tests.factories import place
from tests.support.matcher import process

from ..security.conftest import assert_error_body


def test_overrides_are_set_shown_and_audited(alice, operator_api):
    url = f"/api/v1/admin/limits/user/{alice.id}"
    body = {"orders_per_10s": 500, "orders_per_day": 5_000_000, "maker_fee": "0", "taker_fee": "0.0004"}
    assert operator_api.post(url, body, format="json").status_code == 200
    shown = operator_api.get(url).json()
    assert (shown["orders_per_10s"], shown["orders_per_day"], shown["maker_fee"], shown["taker_fee"]) == (500, 5_000_000, "0", "0.0004")
    entry = AuditLog.objects.filter(action="limits.user.set", target=f"user:{alice.id}").latest("id")
    assert Decimal(entry.payload["after"]["taker_fee"]) == Decimal("0.0004")


def test_a_negative_fee_is_refused(alice, operator_api):
    response = operator_api.post(f"/api/v1/admin/limits/user/{alice.id}", {"maker_fee": "-0.0001"}, format="json")
    assert_error_body(response, 400, "VALIDATION_ERROR")


def test_unset_overrides_read_as_null(alice, operator_api):
    shown = operator_api.get(f"/api/v1/admin/limits/user/{alice.id}").json()
    assert [shown[k] for k in ("orders_per_10s", "orders_per_day", "maker_fee", "taker_fee")] == [None] * 4


def test_a_fee_override_applies_to_that_users_trades_only(symbol, alice, bob, operator):
    # alice, a market maker, pays no maker fee and a lower taker fee than the symbol's.
    set_user_limits(user_id=alice.id, actor=operator, maker_fee=Decimal("0"), taker_fee=Decimal("0.0002"))
    place(alice, symbol, "SELL", "1", "100.00")
    process(symbol)
    place(bob, symbol, "BUY", "1", "100.00")
    process(symbol)
    trade = Trade.objects.get()
    assert trade.seller_fee == Decimal("0")  # alice made: her maker override
    assert trade.buyer_fee == Decimal("1") * symbol.taker_fee  # bob took: the symbol's taker fee, in base
    place(bob, symbol, "SELL", "1", "100.00")
    process(symbol)
    place(alice, symbol, "BUY", "1", "100.00")
    process(symbol)
    second = Trade.objects.latest("id")
    assert second.buyer_fee == Decimal("0.0002")  # alice took: her taker override
    assert second.seller_fee == Decimal("100") * symbol.maker_fee  # bob made: the symbol's maker fee on 100 quote
