"""settlement.ledger and the deposit/lock services: a balanced, append-only
double-entry ledger kept in step with the balances."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import Sum

from settlement import balances, ledger
from settlement.errors import DepositReferenceConflict, InsufficientBalance, InvalidAmount
from settlement.ledger import AVAILABLE, EXTERNAL, LOCKED, Line, UnbalancedPosting
from settlement.models import Balance, LedgerEntry
from tests.factories import make_user, place
from tests.support.matcher import process
from tests.support.state import balance

D = Decimal
pytestmark = pytest.mark.django_db


def unbalanced_postings() -> list[dict]:
    sums = LedgerEntry.objects.values("reference", "asset").annotate(total=Sum("amount"))
    return list(sums.exclude(total=0))


def test_every_posting_of_deposits_orders_and_trades_sums_to_zero_per_asset(symbol, alice, bob):
    place(alice, symbol, "SELL", "2", "50000.00")
    place(bob, symbol, "BUY", "1.5", "50000.00")
    place(bob, symbol, "BUY", "1", "49000.00", time_in_force="IOC")
    process(symbol)

    kinds = set(LedgerEntry.objects.values_list("kind", flat=True))
    assert kinds == {"DEPOSIT", "ORDER_LOCK", "ORDER_RELEASE", "TRADE"}
    assert unbalanced_postings() == []


def test_a_trade_posting_has_six_legs_including_both_fees(symbol, alice, bob):
    place(alice, symbol, "SELL", "1", "50000.00")
    place(bob, symbol, "BUY", "1", "50000.00")
    process(symbol)

    legs = LedgerEntry.objects.filter(kind="TRADE").values_list("leg", flat=True)
    assert sorted(legs) == sorted(
        ["buyer:pays", "seller:receives", "seller:fee", "seller:pays", "buyer:receives", "buyer:fee"]
    )


def test_an_unbalanced_posting_raises_and_writes_nothing(alice):
    before = (LedgerEntry.objects.count(), balance(alice, "BTC"))

    with pytest.raises(UnbalancedPosting):
        with transaction.atomic():
            ledger.post(kind="DEPOSIT", reference="test:unbalanced", lines=[Line(alice.id, "BTC", AVAILABLE, D("1"), "gift")])

    assert (LedgerEntry.objects.count(), balance(alice, "BTC")) == before


def test_a_posting_balanced_in_one_asset_but_not_another_raises(alice):
    lines = [
        Line(alice.id, "BTC", EXTERNAL, D("-1"), "a"),
        Line(alice.id, "BTC", AVAILABLE, D("1"), "b"),
        Line(alice.id, "USDT", AVAILABLE, D("5"), "c"),
    ]
    with pytest.raises(UnbalancedPosting):
        with transaction.atomic():
            ledger.post(kind="DEPOSIT", reference="test:half", lines=lines)
    assert not LedgerEntry.objects.filter(reference="test:half").exists()


def test_the_database_refuses_to_update_a_ledger_line(alice):
    entry = LedgerEntry.objects.filter(account=alice).first()

    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE settlement_ledgerentry SET amount = amount * 2 WHERE id = %s", [entry.id])

    entry_after = LedgerEntry.objects.get(id=entry.id)
    assert entry_after.amount == entry.amount


def test_the_database_refuses_to_delete_a_ledger_line(alice):
    count = LedgerEntry.objects.count()

    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM settlement_ledgerentry WHERE account_id = %s", [alice.id])

    assert LedgerEntry.objects.count() == count


def test_a_deposit_moves_funds_from_external_to_available():
    carol = make_user("carol")

    balances.deposit(user_id=carol.id, asset="eth", amount=D("2.5"), reference="tx-1")

    assert balance(carol, "ETH") == (D("2.5"), D("0"))
    lines = LedgerEntry.objects.filter(reference="deposit:tx-1").values_list("account_id", "asset", "bucket", "amount")
    assert sorted(lines) == sorted([(carol.id, "ETH", "EXTERNAL", D("-2.5")), (carol.id, "ETH", "AVAILABLE", D("2.5"))])


def test_a_deposit_repeated_with_the_same_reference_credits_once():
    carol = make_user("carol")

    for _ in range(3):
        result = balances.deposit(user_id=carol.id, asset="ETH", amount=D("2.5"), reference="tx-1")

    assert (result.available, result.locked) == (D("2.5"), D("0"))
    assert LedgerEntry.objects.filter(reference="deposit:tx-1").count() == 2


@pytest.mark.parametrize("other", [{"user": "dave"}, {"asset": "BTC"}, {"amount": D("3")}])
def test_a_deposit_reference_reused_for_a_different_deposit_is_refused(other):
    carol, dave = make_user("carol"), make_user("dave")
    balances.deposit(user_id=carol.id, asset="ETH", amount=D("2.5"), reference="tx-1")
    repeat = {"user_id": carol.id, "asset": "ETH", "amount": D("2.5")}
    repeat.update({"user_id": dave.id} if "user" in other else other)

    with pytest.raises(DepositReferenceConflict):
        balances.deposit(reference="tx-1", **repeat)

    assert balance(carol, "ETH") == (D("2.5"), D("0"))
    assert not Balance.objects.filter(user=dave).exists()


def test_a_repeated_deposit_may_spell_the_asset_in_lower_case():
    carol = make_user("carol")
    balances.deposit(user_id=carol.id, asset="ETH", amount=D("2.5"), reference="tx-1")

    assert balances.deposit(user_id=carol.id, asset="eth", amount=D("2.50"), reference="tx-1").available == D("2.5")


def test_deposits_without_a_reference_are_each_credited():
    carol = make_user("carol")

    balances.deposit(user_id=carol.id, asset="ETH", amount=D("1"))
    balances.deposit(user_id=carol.id, asset="ETH", amount=D("1"))

    assert balance(carol, "ETH") == (D("2"), D("0"))


@pytest.mark.parametrize("amount", ["0", "-1", "-0.000000000000000001", "NaN", "Infinity"])
def test_a_deposit_of_a_non_positive_or_non_finite_amount_is_refused(amount):
    carol = make_user("carol")

    with pytest.raises(InvalidAmount):
        balances.deposit(user_id=carol.id, asset="ETH", amount=D(amount))

    assert not Balance.objects.filter(user=carol).exists()
    assert not LedgerEntry.objects.filter(account=carol).exists()


def test_locking_order_funds_moves_available_to_locked_with_a_ledger_record(alice):
    with transaction.atomic():
        balances.lock_order_funds(order_id=999_001, user_id=alice.id, asset="BTC", amount=D("40"))

    assert balance(alice, "BTC") == (D("60"), D("40"))
    lines = LedgerEntry.objects.filter(reference="order:999001").values_list("bucket", "amount")
    assert sorted(lines) == sorted([(AVAILABLE, D("-40")), (LOCKED, D("40"))])


def test_locking_more_than_available_is_refused_and_writes_nothing(alice):
    ledger_lines = LedgerEntry.objects.count()

    with pytest.raises(InsufficientBalance):
        with transaction.atomic():
            balances.lock_order_funds(order_id=999_002, user_id=alice.id, asset="BTC", amount=D("100.000000001"))

    assert balance(alice, "BTC") == (D("100"), D("0"))
    assert LedgerEntry.objects.count() == ledger_lines


def test_locking_an_asset_the_user_never_held_is_refused(alice):
    with pytest.raises(InsufficientBalance):
        with transaction.atomic():
            balances.lock_order_funds(order_id=999_003, user_id=alice.id, asset="ETH", amount=D("1"))

    assert not LedgerEntry.objects.filter(reference="order:999003").exists()


def test_cancelling_an_order_releases_its_lock_through_the_ledger(symbol, alice):
    from orders.services import cancel_order

    order = place(alice, symbol, "SELL", "3", "60000.00")
    process(symbol)
    cancel_order(user=alice, order_id=order.id)
    process(symbol)

    assert balance(alice, "BTC") == (D("100"), D("0"))
    kinds = LedgerEntry.objects.filter(reference=f"order:{order.id}").values_list("kind", "bucket", "amount")
    assert sorted(kinds) == sorted(
        [("ORDER_LOCK", AVAILABLE, D("-3")), ("ORDER_LOCK", LOCKED, D("3")),
         ("ORDER_RELEASE", LOCKED, D("-3")), ("ORDER_RELEASE", AVAILABLE, D("3"))]
    )
