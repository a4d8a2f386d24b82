"""orders.limits: every order passes the symbol's and the user's limits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pyotp
import pytest
from django.utils import timezone

from orders.models import Order
from riskadmin import errors
from riskadmin.models import DailyVolume
from riskadmin.services import enroll_totp, set_symbol_limits, set_user_limits
from tests.factories import place

D = Decimal


def test_quantity_below_the_symbol_min_order_size_is_limit_exceeded(symbol, alice, operator):
    set_symbol_limits(symbol=symbol, actor=operator, min_order_size=D("0.1"))
    with pytest.raises(errors.LimitExceeded) as refused:
        place(alice, symbol, "BUY", "0.01", "50000.00")
    assert refused.value.code == "LIMIT_EXCEEDED"
    assert refused.value.details["limit"] == "min_order_size"


def test_quantity_above_the_symbol_max_order_size_is_limit_exceeded(symbol, alice, operator):
    set_symbol_limits(symbol=symbol, actor=operator, max_order_size=D("2"))
    with pytest.raises(errors.LimitExceeded):
        place(alice, symbol, "SELL", "2.001", "50000.00")
    assert place(alice, symbol, "SELL", "2", "50000.00").status == "PENDING"


def test_price_further_than_the_deviation_from_the_last_price_is_out_of_band(symbol, alice, operator):
    symbol.last_price = D("50000")
    symbol.save(update_fields=["last_price"])
    set_symbol_limits(symbol=symbol, actor=operator, max_price_deviation=D("0.1"))
    with pytest.raises(errors.PriceOutOfBand) as refused:
        place(alice, symbol, "BUY", "1", "44999.99")
    assert refused.value.code == "PRICE_OUT_OF_BAND"
    with pytest.raises(errors.PriceOutOfBand):
        place(alice, symbol, "BUY", "1", "50000.00", type="STOP_LIMIT", stop_price="55000.01")
    assert place(alice, symbol, "BUY", "1", "45000.00").status == "PENDING"


def test_price_band_is_not_applied_before_the_first_trade(symbol, alice, operator):
    set_symbol_limits(symbol=symbol, actor=operator, max_price_deviation=D("0.01"))
    assert place(alice, symbol, "BUY", "1", "1.00").status == "PENDING"


def test_order_value_above_the_user_max_order_size_is_limit_exceeded(symbol, alice, operator):
    set_user_limits(user_id=alice.id, actor=operator, max_order_size=D("10000"))
    with pytest.raises(errors.LimitExceeded) as refused:
        place(alice, symbol, "BUY", "1", "10000.01")
    assert refused.value.details["limit"] == "max_order_size"
    assert place(alice, symbol, "BUY", "1", "10000.00").status == "PENDING"


def test_market_order_without_a_last_price_is_refused_when_the_user_has_a_value_limit(symbol, alice, operator):
    set_user_limits(user_id=alice.id, actor=operator, max_order_size=D("10000"))
    with pytest.raises(errors.LimitExceeded):
        place(alice, symbol, "SELL", "1")


def test_open_orders_beyond_max_open_orders_are_limit_exceeded(symbol, alice, operator):
    set_user_limits(user_id=alice.id, actor=operator, max_open_orders=2)
    place(alice, symbol, "BUY", "1", "100.00")
    place(alice, symbol, "BUY", "1", "101.00")
    with pytest.raises(errors.LimitExceeded) as refused:
        place(alice, symbol, "BUY", "1", "102.00")
    assert refused.value.details["limit"] == "max_open_orders"


def test_daily_volume_counts_orders_placed_today_and_refuses_the_one_beyond(symbol, alice, operator):
    set_user_limits(user_id=alice.id, actor=operator, max_daily_volume=D("1000"))
    place(alice, symbol, "BUY", "6", "100.00")
    with pytest.raises(errors.LimitExceeded) as refused:
        place(alice, symbol, "BUY", "5", "100.00")
    assert refused.value.details["limit"] == "max_daily_volume"
    place(alice, symbol, "BUY", "4", "100.00")
    assert DailyVolume.objects.get(user=alice, day=timezone.now().date()).notional == D("1000")


def test_yesterdays_volume_does_not_count_today(symbol, alice, operator):
    set_user_limits(user_id=alice.id, actor=operator, max_daily_volume=D("1000"))
    DailyVolume.objects.create(user=alice, day=timezone.now().date() - timedelta(days=1), notional=D("1000"))
    assert place(alice, symbol, "BUY", "10", "100.00").status == "PENDING"


def test_a_refused_order_is_not_counted_in_daily_volume(symbol, alice, operator):
    set_user_limits(user_id=alice.id, actor=operator, max_daily_volume=D("10000000"))
    with pytest.raises(Exception):
        place(alice, symbol, "BUY", "100", "20000.00")  # needs 2,000,000 USDT: insufficient balance
    row = DailyVolume.objects.filter(user=alice).first()
    assert row is None or row.notional == 0


def test_order_above_requires_2fa_above_needs_a_totp_code(symbol, alice, operator):
    set_user_limits(user_id=alice.id, actor=operator, requires_2fa_above=D("1000"))
    enroll_totp(user_id=alice.id)
    with pytest.raises(errors.TotpRequired) as refused:
        place(alice, symbol, "BUY", "1", "2000.00")
    assert refused.value.code == "TOTP_REQUIRED"
    assert place(alice, symbol, "BUY", "1", "999.00").status == "PENDING"


def test_wrong_totp_code_is_invalid_totp(symbol, alice, operator):
    set_user_limits(user_id=alice.id, actor=operator, requires_2fa_above=D("1000"))
    secret = enroll_totp(user_id=alice.id)
    wrong = str((int(pyotp.TOTP(secret).now()) + 1) % 1_000_000).zfill(6)
    with pytest.raises(errors.InvalidTotp) as refused:
        place(alice, symbol, "BUY", "1", "2000.00", totp_code=wrong)
    assert refused.value.code == "INVALID_TOTP"


def test_valid_totp_code_is_accepted_once(symbol, alice, operator):
    set_user_limits(user_id=alice.id, actor=operator, requires_2fa_above=D("1000"))
    secret = enroll_totp(user_id=alice.id)
    code = pyotp.TOTP(secret).now()
    assert place(alice, symbol, "BUY", "1", "2000.00", totp_code=code).status == "PENDING"
    with pytest.raises(errors.InvalidTotp):
        place(alice, symbol, "BUY", "1", "2001.00", totp_code=code)


def test_limit_errors_reach_traders_with_their_code_and_write_nothing(symbol, alice, alice_api, operator):
    set_user_limits(user_id=alice.id, actor=operator, max_order_size=D("100"))
    response = alice_api.post(
        "/api/v1/orders", {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "500.00"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "LIMIT_EXCEEDED"
    assert not Order.objects.filter(user=alice).exists()


def test_totp_code_travels_in_the_order_request_body(symbol, alice, alice_api, operator):
    set_user_limits(user_id=alice.id, actor=operator, requires_2fa_above=D("100"))
    secret = enroll_totp(user_id=alice.id)
    body = {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "500.00"}
    refused = alice_api.post("/api/v1/orders", body, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "TOTP_REQUIRED")
    accepted = alice_api.post("/api/v1/orders", {**body, "totp_code": pyotp.TOTP(secret).now()}, format="json")
    assert accepted.status_code in (201, 202)
    assert "totp_code" not in accepted.json()
