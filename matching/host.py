"""The shell around the pure engine: rebuild books from PostgreSQL, apply
journalled commands in batches, write each batch's results atomically."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from core.metrics import observe_matcher_batch
from marketdata import events as market
from marketdata.publisher import publish
from matching.engine import MatchingEngine
from matching.engine import constants as c
from orders.models import Order, Trade
from riskadmin.models import Symbol
from settlement.services import enqueue_settlement

from . import persist
from .convert import amend_arguments, to_engine_order
from .models import EngineCommand, MatcherState
from .services import announce_processed

log = logging.getLogger(__name__)


class CommandConflict(RuntimeError):
    """Commands of this batch were already consumed: another matcher owns the symbol."""


@dataclass
class Book:
    symbol: Symbol
    engine: MatchingEngine


@dataclass
class BatchResult:
    command_ids: list[int]
    trade_ids: list[int]
    symbol_ids: set[int]
    # Per touched symbol: trades, changed levels and orders, for the publisher.
    market: list[market.BookChange] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.command_ids)


def build_book(symbol: Symbol) -> Book:
    """Rebuild a symbol's engine, untriggered stops included, from the database."""
    scale = symbol.scale
    engine = MatchingEngine(symbol.name)
    resting = Order.objects.filter(symbol=symbol, status__in=Order.RESTING_STATUSES).order_by("sequence", "id")
    for order in resting.iterator(chunk_size=2000):
        engine.restore(to_engine_order(order, scale))
    state, _ = MatcherState.objects.get_or_create(symbol=symbol)
    last_trade = Trade.objects.filter(symbol=symbol).aggregate(seq=Max("sequence"))["seq"] or 0
    engine.trade_seq = max(state.trade_sequence, last_trade)
    engine.order_seq = max(engine.order_seq, state.order_sequence)
    engine.sequence = state.book_sequence
    if symbol.last_price is not None:
        engine.last_price = scale.to_ticks(symbol.last_price)
    return Book(symbol=symbol, engine=engine)


class Matcher:
    """Owns the books of a set of symbols inside one process."""

    def __init__(self, symbol_ids: list[int], *, batch_size: int = 500, owner: str = "") -> None:
        self.symbol_ids = list(symbol_ids)
        self.batch_size = batch_size
        self.owner = owner
        self.books: dict[int, Book] = {}
        self.published: dict[int, market.BookChange] = {}  # each book as of its last commit
        self.stale = True  # memory may differ from the database: rebuild first

    def load(self) -> None:
        self.books = {s.id: build_book(s) for s in Symbol.objects.filter(id__in=self.symbol_ids)}
        self.stale = False
        self.published = {sid: market.book_state(b.symbol, b.engine) for sid, b in self.books.items()}
        publish(list(self.published.values()))
        log.info("books rebuilt: %s", {b.symbol.name: len(b.engine.resting) + len(b.engine.stops) for b in self.books.values()})
        # A matcher that died between a batch's commit and handing its trades
        # to Celery left them unsettled; settling is idempotent, so re-queue.
        pending = Trade.objects.filter(symbol_id__in=self.books, settlement_status=Trade.Settlement.PENDING)
        enqueue_settlement(list(pending.values_list("id", flat=True)))

    def process_batch(self) -> BatchResult:
        """Apply the oldest unprocessed commands and commit their results.

        Returns what was committed (empty when there was nothing to do). On
        any error the transaction rolls back and the books are rebuilt from
        the database, so memory never runs ahead of what is stored.
        """
        if self.stale:
            self.load()
        started = time.perf_counter()
        try:
            with transaction.atomic():
                result = self._apply_batch()
        except Exception:
            log.exception("batch failed; the books will be rebuilt from the database")
            self.stale = True
            raise
        if result.command_ids:
            self._after_commit(result)
            final = [(o.type, o.status) for change in result.market for o in change.orders if o.status in c.FINAL_STATUSES]
            observe_matcher_batch(len(result), time.perf_counter() - started, final)
        return result

    def _apply_batch(self) -> BatchResult:
        commands = list(
            EngineCommand.objects.filter(processed_at__isnull=True, symbol_id__in=self.books)
            .select_related("order")
            .order_by("id")[: self.batch_size]
        )
        if not commands:
            return BatchResult([], [], set())
        touched_symbols = {command.symbol_id for command in commands}
        first_sequence = {sid: self.books[sid].engine.sequence + 1 for sid in touched_symbols}
        for command in commands:
            self._apply(command)
        trade_ids: list[int] = []
        changes = []
        for symbol_id in touched_symbols:
            book = self.books[symbol_id]
            ids, orders = self._write_book(book)
            trade_ids += ids
            changes.append(market.book_change(
                book.symbol, book.engine, first_sequence=first_sequence[symbol_id],
                before=self.published.get(symbol_id), trade_ids=ids, orders=orders,
            ))
        command_ids = [command.id for command in commands]
        consumed = EngineCommand.objects.filter(id__in=command_ids, processed_at__isnull=True).update(
            processed_at=timezone.now()
        )
        if consumed != len(command_ids):
            raise CommandConflict(f"{len(command_ids) - consumed} commands were already processed elsewhere")
        return BatchResult(command_ids, trade_ids, touched_symbols, changes)

    def _apply(self, command: EngineCommand) -> None:
        book = self.books[command.symbol_id]
        if command.kind == EngineCommand.Kind.PLACE:
            if command.order.status != c.PENDING:
                log.warning("order %s is %s, not PENDING; place skipped", command.order_id, command.order.status)
                return
            book.engine.place(to_engine_order(command.order, book.symbol.scale))
        elif command.kind == EngineCommand.Kind.AMEND:
            book.engine.amend(command.order_id, **amend_arguments(command, book.symbol.scale))
            live = book.engine.get(command.order_id)
            if live is not None:  # amended or refused: either way its lock shrinks to what it needs
                persist.release_amend_surplus(book.symbol, live, command_id=command.id)
        elif not book.engine.cancel(command.order_id, command.reason or c.CANCELLED_BY_USER):
            log.info("cancel of order %s found nothing live (already final)", command.order_id)

    def _write_book(self, book: Book) -> tuple[list[int], list]:
        """Store a book's results; returns the new trade ids and the changed engine orders."""
        engine, symbol = book.engine, book.symbol
        trades, orders = engine.drain()
        persist.write_orders(symbol, orders)
        trade_ids = persist.write_trades(symbol, trades)
        if trades and engine.last_price is not None:
            symbol.last_price = symbol.scale.price(engine.last_price)
            Symbol.objects.filter(id=symbol.id).update(last_price=symbol.last_price)
        MatcherState.objects.filter(symbol=symbol).update(
            book_sequence=engine.sequence,
            trade_sequence=engine.trade_seq,
            order_sequence=engine.order_seq,
            heartbeat_at=timezone.now(),
            owner=self.owner,
        )
        return trade_ids, orders

    def _after_commit(self, result: BatchResult) -> None:
        announce_processed(result.command_ids)
        enqueue_settlement(result.trade_ids)
        self.published.update({change.symbol.id: change for change in result.market})
        publish(result.market)  # never blocks: a full queue drops, clients resync

    def heartbeat(self) -> None:
        MatcherState.objects.filter(symbol_id__in=self.books).update(heartbeat_at=timezone.now(), owner=self.owner)
