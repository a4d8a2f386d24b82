"""Check that what the matcher stored equals a fresh replay of its journal.

For each symbol, the processed commands are replayed in processing order
(processed_at, then id: the matcher stamps one processed_at per batch and
applies a batch in id order) through a new MatchingEngine, and compared with
the stored trades, the stored orders' status and filled quantity, and the
book the matcher would rebuild from the database at start. Everything is
read in one REPEATABLE READ snapshot, so a running matcher does not matter.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from matching.engine import constants as c
from matching.host import build_book
from matching.models import EngineCommand
from matching.replay import diff_lists, diff_orders, replay
from orders.models import Order, Trade
from riskadmin.models import Symbol

DEPTH = 1000


class Command(BaseCommand):
    help = "Replay the command journal per symbol and compare it with the stored trades, orders and book."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--symbols", default="", help='Comma-separated, e.g. "BTC/USDT,ETH/USDT" (default: all).')

    def handle(self, *args, symbols: str, **options) -> None:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            failed = [symbol.name for symbol in self._symbols(symbols) if not self._verify(symbol)]
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

    def _verify(self, symbol: Symbol) -> bool:
        scale = symbol.scale
        commands = (
            EngineCommand.objects.filter(symbol=symbol, processed_at__isnull=False)
            .select_related("order")
            .order_by("processed_at", "id")
        )
        replayed = replay(symbol.name, scale, commands.iterator(chunk_size=2000))

        stored_trades = [
            (t.sequence, scale.to_ticks(t.price), scale.to_lots(t.quantity), t.maker_order_id, t.taker_order_id)
            for t in Trade.objects.filter(symbol=symbol).order_by("sequence").iterator(chunk_size=2000)
        ]
        unprocessed = EngineCommand.objects.filter(symbol=symbol, processed_at__isnull=True).values("order_id")
        stored_orders = {
            order_id: (status, scale.to_lots(filled))
            for order_id, status, filled in Order.objects.filter(symbol=symbol)
            .exclude(id__in=unprocessed)
            .values_list("id", "status", "filled_quantity")
        }
        still_pending = (
            Order.objects.filter(symbol=symbol, status=c.PENDING, commands__processed_at__isnull=False)
            .distinct()
            .values_list("id", flat=True)
        )
        bids, asks = replayed.engine.depth(DEPTH)
        stored_bids, stored_asks = build_book(symbol).engine.depth(DEPTH)

        problems = (
            diff_lists("trade", replayed.trades, stored_trades)
            + diff_orders(replayed.orders, stored_orders)
            + [f"order {order_id}: its command was processed but it is still PENDING" for order_id in still_pending]
            + diff_lists("bid level", bids, stored_bids)
            + diff_lists("ask level", asks, stored_asks)
        )
        if problems:
            self.stderr.write(f"{symbol.name} MISMATCH:")
            for problem in problems:
                self.stderr.write(f"  {problem}")
            return False
        self.stdout.write(
            f"{symbol.name} OK: {replayed.commands} commands, {len(stored_trades)} trades,"
            f" {len(stored_orders)} orders, {len(bids)} bid / {len(asks)} ask levels"
        )
        return True
