"""settlement.reconcile and `manage.py reconcile`: the money invariants hold
after real trading, and any corruption of balances or ledger is reported."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from orders.models import Trade
from orders.services import cancel_order
from settlement import reconcile
from settlement.trades import settle_trade
from tests.factories import make_user, place
from tests.support.matcher import process

D = Decimal
pytestmark = pytest.mark.django_db


def run_reconcile() -> str:
    out = StringIO()
    call_command("reconcile", stdout=out)
    return out.getvalue()


def failing_checks() -> set[str]:
    return {result.name for result in reconcile.run_all() if not result.ok}


def sql(statement: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.fixture
def traded(symbol, alice, bob):
    """A market after some trading: fills, a resting order, a cancel, an IOC
    remainder, a market buy, and fees collected."""
    place(alice, symbol, "SELL", "2", "50000.00")
    place(bob, symbol, "BUY", "1.5", "50000.00")
    resting = place(bob, symbol, "BUY", "1", "49000.00")
    place(alice, symbol, "SELL", "0.2", "48000.00", time_in_force="IOC")
    place(bob, symbol, "BUY", "0.3", quote_order_qty="20000")
    process(symbol)
    cancel_order(user=bob, order_id=resting.id)
    place(alice, symbol, "SELL", "1", "51000.00")
    process(symbol)
    assert Trade.objects.filter(settlement_status="SETTLED").count() >= 3


def test_reconcile_passes_after_trading(traded):
    output = run_reconcile()

    for name in ("asset_conservation", "balances_match_ledger", "no_negative_balances", "postings_balance", "locks_match_orders"):
        assert f"ok   {name}" in output
    assert "all invariants hold" in output


def test_reconcile_passes_on_an_empty_exchange(db):
    assert "all invariants hold" in run_reconcile()


def test_conservation_counts_the_fee_account_and_reports_every_asset(traded):
    result = reconcile.asset_conservation()

    assert result.ok and result.checked == 2  # BTC and USDT


def test_reconcile_fails_when_a_balance_is_corrupted(traded, alice):
    sql("UPDATE settlement_balance SET available = available + 1 WHERE user_id = %s AND asset = 'BTC'", [alice.id])

    with pytest.raises(CommandError, match="asset_conservation, balances_match_ledger"):
        run_reconcile()


def test_a_lock_moved_without_the_ledger_breaks_balances_and_locks_but_not_conservation(traded, bob):
    sql("UPDATE settlement_balance SET available = available - 5, locked = locked + 5 WHERE user_id = %s AND asset = 'USDT'", [bob.id])

    assert failing_checks() == {"balances_match_ledger", "locks_match_orders"}


def test_reconcile_fails_on_an_unbalanced_ledger_row(traded, alice):
    sql(
        "INSERT INTO settlement_ledgerentry (account_id, asset, bucket, amount, kind, reference, leg, created_at)"
        " VALUES (%s, 'BTC', 'EXTERNAL', -1, 'DEPOSIT', 'deposit:forged', 'deposit:from', now())",
        [alice.id],
    )

    assert failing_checks() == {"asset_conservation", "postings_balance"}
    with pytest.raises(CommandError):
        run_reconcile()


def test_ledger_lines_without_a_balance_row_are_reported(traded):
    carol = make_user("carol")
    sql(
        "INSERT INTO settlement_ledgerentry (account_id, asset, bucket, amount, kind, reference, leg, created_at)"
        " VALUES (%s, 'ETH', 'AVAILABLE', 3, 'DEPOSIT', 'deposit:ghost', 'deposit:to', now()),"
        "        (%s, 'ETH', 'EXTERNAL', -3, 'DEPOSIT', 'deposit:ghost', 'deposit:from', now())",
        [carol.id, carol.id],
    )

    assert failing_checks() == {"asset_conservation", "balances_match_ledger"}


def test_a_negative_balance_is_reported(traded, alice):
    # The CHECK constraint forbids it; reconcile must still see it if it were lifted.
    sql("SET CONSTRAINTS ALL IMMEDIATE", [])
    sql("ALTER TABLE settlement_balance DROP CONSTRAINT balance_available_not_negative", [])
    sql("UPDATE settlement_balance SET available = -1 WHERE user_id = %s AND asset = 'USDT'", [alice.id])

    assert "no_negative_balances" in failing_checks()


@pytest.fixture
def held_settlement(monkeypatch) -> list[int]:
    """Hold back the matcher's hand-off of trades to Celery (as while the
    broker is down); the trade ids collect in the returned list."""
    from matching import host

    held: list[int] = []
    monkeypatch.setattr(host, "enqueue_settlement", held.extend)
    return held


def test_trades_waiting_for_settlement_reconcile_while_pending_and_after(symbol, alice, bob, held_settlement):
    place(alice, symbol, "SELL", "1", "50000.00")
    place(alice, symbol, "SELL", "1", "50100.00")
    place(bob, symbol, "BUY", "2", "50100.00")
    process(symbol)
    assert len(held_settlement) == 2 and Trade.objects.filter(settlement_status="PENDING").count() == 2

    assert failing_checks() == set()
    for trade_id in reversed(held_settlement):
        settle_trade(trade_id=trade_id)
        assert failing_checks() == set()


def test_a_trade_marked_unsettled_after_it_settled_is_reported_as_owed(symbol, alice, bob):
    place(alice, symbol, "SELL", "1", "50000.00")
    place(bob, symbol, "BUY", "1", "50000.00")
    process(symbol)
    # Its ledger lines already consumed the locks; as FAILED it would owe them again.
    Trade.objects.update(settlement_status="FAILED")

    mismatches = {(row["user_id"], row["asset"]): row["expected"] for row in reconcile.locks_match_orders().mismatches}
    assert mismatches == {(bob.id, "USDT"): D("50000"), (alice.id, "BTC"): D("1")}
