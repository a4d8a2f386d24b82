"""Operator actions in the Django admin, through the test client as staff."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from matching.models import EngineCommand
from orders.models import Order
from riskadmin.models import AuditLog, Symbol, SymbolLimit, UserLimit
from tests.factories import place
from tests.support.matcher import process


def test_halt_asks_for_a_reason_first(admin_client_, symbol):
    page = admin_client_.post(
        "/admin/riskadmin/symbol/", {"action": "halt", ACTION_CHECKBOX_NAME: [symbol.id]}
    )
    assert page.status_code == 200
    assert b"Halt trading" in page.content and b'name="reason"' in page.content
    assert Symbol.objects.get(id=symbol.id).status == "TRADING"


def test_an_empty_reason_is_asked_again(admin_client_, symbol):
    page = admin_client_.post(
        "/admin/riskadmin/symbol/",
        {"action": "halt", ACTION_CHECKBOX_NAME: [symbol.id], "apply": "1", "reason": ""},
    )
    assert page.status_code == 200 and b"This field is required" in page.content
    assert Symbol.objects.get(id=symbol.id).status == "TRADING"


def test_halt_then_resume_with_reasons_are_audited(admin_client_, symbol, staff):
    halted = admin_client_.post(
        "/admin/riskadmin/symbol/",
        {"action": "halt", ACTION_CHECKBOX_NAME: [symbol.id], "apply": "1", "reason": "incident 42"},
        follow=True,
    )
    assert b"Halted: BTC/USDT." in halted.content
    assert (Symbol.objects.get(id=symbol.id).status, Symbol.objects.get(id=symbol.id).halt_reason) == ("HALTED", "incident 42")

    resumed = admin_client_.post(
        "/admin/riskadmin/symbol/",
        {"action": "resume", ACTION_CHECKBOX_NAME: [symbol.id], "apply": "1", "reason": "all clear"},
        follow=True,
    )
    assert b"Trading again: BTC/USDT." in resumed.content
    assert Symbol.objects.get(id=symbol.id).status == "TRADING"
    actions = list(AuditLog.objects.filter(actor=staff).order_by("id").values_list("action", "ip"))
    assert actions == [("trading.halt", "127.0.0.1"), ("trading.resume", "127.0.0.1")]


def test_resume_asks_for_a_reason_first(admin_client_, symbol):
    page = admin_client_.post("/admin/riskadmin/symbol/", {"action": "resume", ACTION_CHECKBOX_NAME: [symbol.id]})
    assert b"Resume trading" in page.content


def test_cancel_all_orders_of_a_user_from_the_user_admin(admin_client_, symbol, alice, staff):
    orders = [place(alice, symbol, "BUY", "1", price) for price in ("90.00", "91.00")]
    process(symbol)
    page = admin_client_.post("/admin/auth/user/", {"action": "cancel_all_orders", ACTION_CHECKBOX_NAME: [alice.id]})
    assert b"Cancel all live orders" in page.content
    done = admin_client_.post(
        "/admin/auth/user/",
        {"action": "cancel_all_orders", ACTION_CHECKBOX_NAME: [alice.id], "apply": "1", "reason": "account frozen"},
        follow=True,
    )
    assert b"2 cancel(s) sent to the matcher." in done.content
    assert AuditLog.objects.filter(action="orders.cancel_all", target=f"user:{alice.id}", actor=staff).exists()
    assert EngineCommand.objects.filter(kind="CANCEL", order__in=orders, processed_at__isnull=True).count() == 2
    process(symbol)
    assert set(Order.objects.filter(id__in=[o.id for o in orders]).values_list("status", flat=True)) == {"CANCELLED"}


def test_symbol_limits_edited_in_the_admin_are_saved_through_the_audited_service(admin_client_, symbol, staff):
    response = admin_client_.post(
        "/admin/riskadmin/symbollimit/add/",
        {"symbol": symbol.id, "min_order_size": "10", "max_order_size": "5000", "max_price_deviation": ""},
    )
    assert response.status_code == 302, response.content[:2000]
    limit = SymbolLimit.objects.get(symbol=symbol)
    assert (limit.min_order_size, limit.max_order_size, limit.max_price_deviation) == (Decimal("10"), Decimal("5000"), None)
    assert AuditLog.objects.filter(action="limits.symbol.set", target="symbol:BTC/USDT").count() == 1

    edit = admin_client_.get(f"/admin/riskadmin/symbollimit/{limit.pk}/change/")
    assert edit.status_code == 200 and b'name="symbol"' not in edit.content  # owner is read-only once saved


def test_user_limits_edited_in_the_admin_are_audited(admin_client_, alice, staff):
    response = admin_client_.post(
        "/admin/riskadmin/userlimit/add/",
        {"user": alice.id, "max_order_size": "1000", "max_daily_volume": "", "max_open_orders": "3", "requires_2fa_above": ""},
    )
    assert response.status_code == 302, response.content[:2000]
    limit = UserLimit.objects.get(user=alice)
    assert (limit.max_order_size, limit.max_open_orders) == (Decimal("1000"), 3)
    assert AuditLog.objects.filter(action="limits.user.set", target=f"user:{alice.id}").count() == 1


def test_symbols_cannot_be_deleted_in_the_admin(admin_client_, symbol):
    assert admin_client_.get(f"/admin/riskadmin/symbol/{symbol.id}/delete/").status_code == 403
    assert admin_client_.get(f"/admin/riskadmin/symbol/{symbol.id}/change/").status_code == 200


def test_the_admin_audits_the_address_the_api_would_see_behind_a_proxy(admin_client_, symbol, staff, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    admin_client_.post(
        "/admin/riskadmin/symbol/",
        {"action": "halt", ACTION_CHECKBOX_NAME: [symbol.id], "apply": "1", "reason": "incident 43"},
        HTTP_X_FORWARDED_FOR="203.0.113.7",
    )
    assert AuditLog.objects.get(actor=staff, action="trading.halt").ip == "203.0.113.7"
