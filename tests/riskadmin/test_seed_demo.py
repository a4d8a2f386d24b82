"""seed_demo, run through call_command against the real database."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model

from riskadmin.models import Symbol
from settlement.models import Balance
from tests.support.commands import run


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
