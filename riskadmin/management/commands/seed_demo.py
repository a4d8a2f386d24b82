"""Seed a demo market: BTC/USDT and ETH/USDT, an operator and two funded traders."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from riskadmin.services import upsert_symbol
from settlement.balances import deposit

D = Decimal
SYMBOLS = [
    {"name": "BTC/USDT", "tick_size": D("0.01"), "step_size": D("0.00001"), "min_quantity": D("0.00001"), "min_notional": D("5")},
    {"name": "ETH/USDT", "tick_size": D("0.01"), "step_size": D("0.0001"), "min_quantity": D("0.0001"), "min_notional": D("5")},
]
TRADER_FUNDS = {"USDT": D("1000000"), "BTC": D("10"), "ETH": D("100")}


class Command(BaseCommand):
    help = "Create the demo symbols and users (idempotent) and print their credentials."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--password", default="demo-pass-123", help="Password for the demo users.")

    @transaction.atomic
    def handle(self, *args, password: str, **options) -> None:
        for spec in SYMBOLS:
            upsert_symbol(**spec)
        User = get_user_model()
        admin, created = User.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
        if created:
            admin.set_password(password)
            admin.save()
        for username in ("alice", "bob"):
            trader, created = User.objects.get_or_create(username=username)
            if created:
                trader.set_password(password)
                trader.save()
                for asset, amount in TRADER_FUNDS.items():
                    deposit(user_id=trader.id, asset=asset, amount=amount, reference=f"seed:{username}:{asset}")
        self.stdout.write("Demo market ready: BTC/USDT, ETH/USDT")
        self.stdout.write(f"  operator: admin / {password}   (Django admin at http://127.0.0.1:8000/admin/)")
        self.stdout.write(f"  traders:  alice / {password}, bob / {password}   (each funded with 1,000,000 USDT, 10 BTC, 100 ETH)")
