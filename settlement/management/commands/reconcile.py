"""Check the money invariants: `manage.py reconcile`. Exits non-zero on any mismatch."""

from django.core.management.base import BaseCommand, CommandError

from settlement.reconcile import format_amount, run_all

SHOWN_PER_CHECK = 20


class Command(BaseCommand):
    help = "Check balances against the ledger, deposits and open orders; read only."

    def handle(self, *args, **options) -> None:
        results = run_all()
        for result in results:
            status = "ok  " if result.ok else "FAIL"
            self.stdout.write(f"{status} {result.name}: {result.description} ({result.checked} checked)")
            for row in result.mismatches[:SHOWN_PER_CHECK]:
                self.stdout.write("     " + ", ".join(f"{key}={format_amount(value)}" for key, value in row.items()))
            if len(result.mismatches) > SHOWN_PER_CHECK:
                self.stdout.write(f"     ... {len(result.mismatches) - SHOWN_PER_CHECK} more")
        failed = [result.name for result in results if not result.ok]
        if failed:
            raise CommandError(f"reconciliation failed: {', '.join(failed)}")
        self.stdout.write("all invariants hold")
