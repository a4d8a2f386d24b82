"""The deposit command, run through call_command against the real database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import CommandError

from settlement.models import Balance
from tests.factories import make_user
from tests.support.commands import run


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
