"""The operator commands run through call_command against the real database."""

from __future__ import annotations

import signal
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from matching.models import EngineCommand
from orders.models import Order, Trade
from riskadmin.models import Symbol, TotpDevice
from settlement.models import Balance
from tests.factories import make_symbol, make_user, place
from tests.orders.support import process


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- seed_demo -------------------------------------------------------------

def test_seed_demo_creates_the_market_and_funded_traders_once(db):
    out, _ = run("seed_demo", "--password", "s3cret-pass")
    assert "Demo market ready" in out and "s3cret-pass" in out
    assert set(Symbol.objects.values_list("name", flat=True)) >= {"BTC/USDT", "ETH/USDT"}
    users = get_user_model().objects
    admin = users.get(username="admin")
    assert admin.is_staff and admin.is_superuser and admin.check_password("s3cret-pass")
    assert users.get(username="alice").check_password("s3cret-pass")

    run("seed_demo")  # idempotent: nothing is deposited twice, passwords unchanged
    assert Balance.objects.get(user__username="bob", asset="USDT").available == Decimal("1000000")
    assert Balance.objects.get(user__username="alice", asset="ETH").available == Decimal("100")
    assert users.get(username="alice").check_password("s3cret-pass")
    assert users.filter(username__in=["admin", "alice", "bob"]).count() == 3


# --- deposit ---------------------------------------------------------------

def test_deposit_credits_available_and_a_repeated_reference_credits_nothing(db):
    make_user("carol")
    out, _ = run("deposit", "carol", "usdt", "1500.5", "--reference", "tx-1")
    assert out.startswith("carol USDT: available 1500.5") and Decimal(out.split()[3].rstrip(",")) == Decimal("1500.5")
    run("deposit", "carol", "USDT", "1500.5", "--reference", "tx-1")
    assert Balance.objects.get(user__username="carol", asset="USDT").available == Decimal("1500.5")


@pytest.mark.parametrize("amount", ["abc", "-3", "0", "NaN"])
def test_deposit_refuses_an_invalid_amount(db, amount):
    make_user("carol")
    with pytest.raises(CommandError, match="invalid amount"):
        run("deposit", "carol", "USDT", amount)
    assert not Balance.objects.filter(user__username="carol").exists()


def test_deposit_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="no user 'nobody'"):
        run("deposit", "nobody", "USDT", "1")


def test_deposit_refuses_a_reference_reused_for_another_amount(db):
    make_user("carol")
    run("deposit", "carol", "BTC", "1", "--reference", "tx-9")
    with pytest.raises(CommandError, match=r"\(tx-9\)"):
        run("deposit", "carol", "BTC", "2", "--reference", "tx-9")
    assert Balance.objects.get(user__username="carol", asset="BTC").available == Decimal("1")


# --- totp_enroll -----------------------------------------------------------

def test_totp_enroll_prints_a_working_secret_and_stores_it(db):
    user = make_user("carol")
    out, _ = run("totp_enroll", "carol", "--issuer", "Test Exchange")
    lines = dict(line.split(":", 1) for line in out.strip().splitlines())
    secret = lines["secret"].strip()
    uri = lines["uri"].strip()
    assert uri.startswith("otpauth://totp/") and "issuer=Test%20Exchange" in uri and secret in uri
    assert TotpDevice.objects.get(user=user).secret == secret

    again, _ = run("totp_enroll", "carol")
    assert again.splitlines()[0].split(":", 1)[1].strip() != secret  # the old secret is replaced


def test_totp_enroll_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="no user 'ghost'"):
        run("totp_enroll", "ghost")


# --- run_matcher --until-idle ----------------------------------------------

@pytest.fixture
def restore_signals():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_run_matcher_until_idle_applies_the_journal_and_exits(symbol, alice, bob, restore_signals):
    ask = place(alice, symbol, "SELL", "1", "100.00")
    bid = place(bob, symbol, "BUY", "0.4", "100.00")
    out, _ = run("run_matcher", "--symbols", "btc-usdt", "--until-idle", "--batch-size", "1")
    assert "owns 1 symbol(s)" in out
    assert not EngineCommand.objects.filter(processed_at__isnull=True).exists()
    ask.refresh_from_db()
    bid.refresh_from_db()
    assert (bid.status, ask.status) == ("FILLED", "PARTIALLY_FILLED")
    trade = Trade.objects.get()
    assert (trade.price, trade.quantity) == (Decimal("100.00"), Decimal("0.400"))


def test_run_matcher_with_no_matching_symbol_refuses_to_start(symbol, restore_signals):
    with pytest.raises(CommandError, match="no symbols to match"):
        run("run_matcher", "--symbols", "DOGE/USDT", "--until-idle")


def test_run_matcher_stops_before_matching_when_signalled_while_standing_by(symbol, restore_signals, monkeypatch):
    from matching.management.commands import run_matcher

    # A second connection holds the symbol's lock, as a live matcher would.
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(autocommit=True, **params) as owner:
        owner.execute("SELECT pg_advisory_lock(%s, %s)", (run_matcher.ADVISORY_NAMESPACE, symbol.id))
        command = run_matcher.Command()
        sleeps = []

        def fake_sleep(seconds):  # the standby loop: ask it to stop after one wait
            sleeps.append(seconds)
            command.stopping = True

        monkeypatch.setattr(run_matcher.time, "sleep", fake_sleep)
        out = StringIO()
        command.stdout = command.stdout.__class__(out)
        command.handle(symbols="", batch_size=10, until_idle=True)
    assert sleeps == [0.5]
    assert "owns" not in out.getvalue()


# --- verify_book -----------------------------------------------------------
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
