"""Check that what the matcher stored equals a fresh replay of its journal.

For each symbol, the processed commands are replayed in processing order
through a new MatchingEngine (from the symbol's journal checkpoint, when
archiving took one) and compared with the stored trades, the stored orders'
status and filled quantity, and the book the matcher would rebuild from the
database at start (matching/verify.py). Everything is read in one
REPEATABLE READ snapshot, so a running matcher does not matter.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from matching.verify import snapshot_transaction, verify_symbol
from riskadmin.models import Symbol


class Command(BaseCommand):
    help = "Replay the command journal per symbol and compare it with the stored trades, orders and book."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--symbols", default="", help='Comma-separated, e.g. "BTC/USDT,ETH/USDT" (default: all).')
        parser.add_argument(
            "--full", action="store_true",
            help="Ignore the checkpoints: replay the archived and the hot journal from the beginning (slow).",
        )

    def handle(self, *args, symbols: str, full: bool = False, **options) -> None:
        with snapshot_transaction():
            failed = [symbol.name for symbol in self._symbols(symbols) if not self._verify(symbol, full)]
        if failed:
            raise CommandError(f"book verification failed for {', '.join(failed)}")

    def _symbols(self, symbols: str) -> list[Symbol]:
        queryset = Symbol.objects.order_by("name")
        if symbols:
            names = [s.strip().upper().replace("-", "/") for s in symbols.split(",") if s.strip()]
            queryset = queryset.filter(name__in=names)
            missing = set(names) - set(queryset.values_list("name", flat=True))
            if missing:
                raise CommandError(f"unknown symbol(s): {', '.join(sorted(missing))}")
        return list(queryset)

    def _verify(self, symbol: Symbol, full: bool) -> bool:
        result = verify_symbol(symbol, full=full)
        if not result.ok:
            self.stderr.write(f"{symbol.name} MISMATCH:")
            for problem in result.problems:
                self.stderr.write(f"  {problem}")
            return False
        self.stdout.write(f"{symbol.name} OK: {result.summary()}")
        return True
