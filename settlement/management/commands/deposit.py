"""Credit a deposit from the command line: `manage.py deposit alice USDT 1000`."""

from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from settlement.balances import deposit
from settlement.errors import DepositReferenceConflict, InvalidAmount


class Command(BaseCommand):
    help = "Credit an external deposit to a user's available balance."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("asset")
        parser.add_argument("amount")
        parser.add_argument("--reference", default="", help="External id; repeating it credits nothing more.")

    def handle(self, *args, username: str, asset: str, amount: str, reference: str, **options) -> None:
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user {username!r}") from None
        try:
            balance = deposit(user_id=user.id, asset=asset, amount=Decimal(amount), reference=reference)
        except (InvalidOperation, InvalidAmount):
            raise CommandError(f"invalid amount {amount!r}: give a positive decimal") from None
        except DepositReferenceConflict as exc:
            raise CommandError(f"{exc.message} ({reference})") from None
        self.stdout.write(f"{username} {balance.asset}: available {balance.available:f}, locked {balance.locked:f}")
