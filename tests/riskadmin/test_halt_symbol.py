"""riskadmin.services.halt_symbol / resume_symbol."""

from __future__ import annotations

import pytest

from matching.models import EngineCommand
from orders.errors import SymbolHalted
from orders.services import cancel_order
from riskadmin import services
from riskadmin.models import AuditLog, Symbol
from tests.factories import place
from tests.support.matcher import process


def test_halted_symbol_refuses_new_orders_at_once(symbol, alice, operator):
    services.halt_symbol(symbol=Symbol.objects.get(id=symbol.id), reason="exchange incident", actor=operator)
    with pytest.raises(SymbolHalted) as refused:
        place(alice, Symbol.objects.get(id=symbol.id), "BUY", "1", "100.00")
    assert refused.value.details["reason"] == "exchange incident"


def test_an_order_validated_before_the_halt_is_still_refused(symbol, alice, operator):
    stale = Symbol.objects.get(id=symbol.id)  # read before the halt, as a request in flight would
    services.halt_symbol(symbol=symbol, reason="incident", actor=operator)
    stale.status = Symbol.Status.TRADING  # the in-flight request still believes it trades
    with pytest.raises(SymbolHalted):
        place(alice, stale, "BUY", "1", "100.00")


def test_halt_keeps_resting_orders_and_cancels_still_work(symbol, alice, operator):
    order = place(alice, symbol, "BUY", "1", "100.00")
    process(symbol)
    services.halt_symbol(symbol=symbol, reason="incident", actor=operator)
    order.refresh_from_db()
    assert order.status == "OPEN"

    _, command = cancel_order(user=alice, order_id=order.id)
    process(symbol)

    order.refresh_from_db()
    assert command.kind == EngineCommand.Kind.CANCEL
    assert order.status == "CANCELLED"


def test_halt_is_stored_and_resume_accepts_orders_again(symbol, alice, operator):
    services.halt_symbol(symbol=symbol, reason="incident", actor=operator)
    stored = Symbol.objects.get(id=symbol.id)
    assert (stored.status, stored.halt_reason) == ("HALTED", "incident")

    services.resume_symbol(symbol=stored, actor=operator)

    stored.refresh_from_db()
    assert (stored.status, stored.halt_reason) == ("TRADING", "")
    assert place(alice, stored, "BUY", "1", "100.00").status == "PENDING"


def test_halt_and_resume_are_audited(symbol, operator):
    services.halt_symbol(symbol=symbol, reason="incident", actor=operator, ip="10.0.0.1")
    services.resume_symbol(symbol=symbol, actor=operator)
    rows = list(AuditLog.objects.order_by("id").values_list("action", "target", "actor_name"))
    assert rows == [("trading.halt", "symbol:BTC/USDT", "operator"), ("trading.resume", "symbol:BTC/USDT", "operator")]
    assert AuditLog.objects.get(action="trading.halt").ip == "10.0.0.1"


@pytest.mark.django_db(transaction=True)
def test_halt_stands_when_the_broadcast_fails(monkeypatch, operator):
    from tests.factories import make_symbol

    symbol = make_symbol("LTC/USDT")

    def broken_layer():
        raise ConnectionError("redis is down")

    monkeypatch.setattr("channels.layers.get_channel_layer", broken_layer)
    services.halt_symbol(symbol=symbol, reason="incident", actor=operator)
    assert Symbol.objects.get(id=symbol.id).status == "HALTED"
