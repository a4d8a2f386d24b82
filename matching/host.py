"""The shell around the pure engine: rebuild books from PostgreSQL, apply
journalled commands in batches, write each batch's results atomically."""

from __future__ import annotations

import gc
import itertools
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from core import sql_arrays as arrays
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

# The cyclic collector's thresholds for a matcher process. With CPython's
# (700, 10, 10), replaying 300k engine commands beside a book of 50k resting
# orders ran 32 collections, a p99.9 of 155 us and a worst pause of 12 ms;
# with the loaded book frozen and these thresholds, no collection ran, p99.9
# was 47 us and the worst 1.3 ms, at 454k against 339k ops/s (median).
# Draining 20k commands in this process beside the same book: 553
# collections and 364 ms in the collector with the defaults, none with these
# (docs/performance.md, "Garbage collector on a deep book").
GC_THRESHOLDS = (50_000, 20, 100)


@dataclass
class Written:
    """What a batch wrote so far, per symbol: its trade ids, in trade order,
    and its changed orders (the latest state of each)."""

    trade_ids: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    orders: dict[int, dict[int, object]] = field(default_factory=lambda: defaultdict(dict))


class CommandConflict(RuntimeError):
    """Commands of this batch were already consumed: another matcher owns the symbol."""


class OrderRow(NamedTuple):
    """The order fields the engine needs (what convert.to_engine_order reads)."""

    id: int
    user_id: int
    side: str
    type: str
    time_in_force: str
    post_only: bool
    self_trade_prevention: str
    price: object
    stop_price: object
    quantity: object
    filled_quantity: object
    executed_quote: object
    locked_amount: object
    status: str
    sequence: int
    triggered: bool
    locked_asset: str


class JournalEntry(NamedTuple):
    id: int
    symbol_id: int
    kind: str
    reason: str
    order_id: int
    # What an AMEND asks for (a PLACE records the order as placed).
    quantity: object
    price: object
    stop_price: object
    # A PLACE's lock still to take from what the same batch's cancels free.
    borrowed: object
    order: OrderRow

    @property
    def borrows(self) -> bool:
        return self.kind == EngineCommand.Kind.PLACE and bool(self.borrowed)


# One plain query: model instances for a whole batch of commands and their
# orders cost more to build than the engine takes to apply them. The oldest
# commands are picked per symbol (the command_unprocessed index in id order,
# at most `limit` each) before the merge and the join: joining every
# unprocessed command to its order first and sorting them all cost a backlog
# drain several times the read itself.
NEXT_COMMANDS = f"""
SELECT c.id, c.symbol_id, c.kind, c.reason, c.order_id, c.quantity, c.price, c.stop_price, c.borrowed,
       o.id, o.user_id, o.side, o.type, o.time_in_force, o.post_only, o.self_trade_prevention, o.price,
       o.stop_price, o.quantity, o.filled_quantity, o.executed_quote, o.locked_amount, o.status, o.sequence,
       o.triggered, o.locked_asset
FROM (
    SELECT oldest.* FROM unnest(%(symbols)s::bigint[]) AS s(id)
    CROSS JOIN LATERAL (
        SELECT * FROM {EngineCommand._meta.db_table}
        WHERE processed_at IS NULL AND symbol_id = s.id ORDER BY id LIMIT %(limit)s
    ) AS oldest
    ORDER BY oldest.id LIMIT %(limit)s
) AS c JOIN {Order._meta.db_table} AS o ON o.id = c.order_id
ORDER BY c.id
"""


def next_commands(symbol_ids: list[int], limit: int) -> list[JournalEntry]:
    """The oldest unprocessed commands of these symbols, with their orders."""
    with connection.cursor() as cursor:
        cursor.execute(NEXT_COMMANDS, {"symbols": arrays.ints(symbol_ids), "limit": limit})
        return [JournalEntry(*row[:9], OrderRow(*row[9:])) for row in cursor.fetchall()]


# The ids as one array: an ORM `id__in` of a batch builds and quotes a
# parameter per command.
CONSUME_COMMANDS = f"""
UPDATE {EngineCommand._meta.db_table} SET processed_at = %s WHERE id = ANY(%s::bigint[]) AND processed_at IS NULL
"""


def consume_commands(command_ids: list[int]) -> int:
    """Mark the commands processed; returns how many were still unprocessed
    (fewer than asked means another matcher applied some)."""
    with connection.cursor() as cursor:
        cursor.execute(CONSUME_COMMANDS, [timezone.now(), arrays.ints(command_ids)])
        return cursor.rowcount


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

    def __init__(self, symbol_ids: list[int], *, batch_size: int = 500, owner: str = "", freeze_after_load: bool = False) -> None:
        self.symbol_ids = list(symbol_ids)
        # Move what load() built out of the cyclic collector's sight: the
        # books live as long as the process, and scanning them again in
        # every full collection is what a deep book would cost.
        self.freeze_after_load = freeze_after_load
        self.batch_size = batch_size
        self.owner = owner
        self.books: dict[int, Book] = {}
        self.published: dict[int, market.BookChange] = {}  # each book as of its last commit
        self.stale = True  # memory may differ from the database: rebuild first

    def load(self) -> None:
        if self.freeze_after_load:
            gc.unfreeze()  # books of an earlier load become collectable again
        self.books = {s.id: build_book(s) for s in Symbol.objects.filter(id__in=self.symbol_ids)}
        self.stale = False
        self.published = {sid: market.book_state(b.symbol, b.engine) for sid, b in self.books.items()}
        if self.freeze_after_load:
            gc.collect()
            gc.freeze()
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
        commands = next_commands(list(self.books), self.batch_size)
        if not commands:
            return BatchResult([], [], set())
        touched_symbols = sorted({command.symbol_id for command in commands})
        first_sequence = {sid: self.books[sid].engine.sequence + 1 for sid in touched_symbols}
        written = Written()
        index = 0
        while index < len(commands):
            if commands[index].borrows:
                run = list(itertools.takewhile(lambda command: command.borrows, commands[index:]))
                self._flush(touched_symbols, written)  # the cancels before them free their funds
                self._place_borrowing(run)
                index += len(run)
            else:
                self._apply(commands[index])
                index += 1
        self._flush(touched_symbols, written)
        changes = [
            market.book_change(
                self.books[sid].symbol, self.books[sid].engine, first_sequence=first_sequence[sid],
                before=self.published.get(sid), trade_ids=written.trade_ids[sid], orders=list(written.orders[sid].values()),
            )
            for sid in touched_symbols
        ]
        command_ids = [command.id for command in commands]
        consumed = consume_commands(command_ids)
        if consumed != len(command_ids):
            raise CommandConflict(f"{len(command_ids) - consumed} commands were already processed elsewhere")
        trade_ids = [trade_id for sid in touched_symbols for trade_id in written.trade_ids[sid]]
        return BatchResult(command_ids, trade_ids, set(touched_symbols), changes)

    def _flush(self, symbol_ids: list[int], written: "Written") -> None:
        """Write what the books did since the last flush (inside the batch's
        transaction: nothing commits here)."""
        results = []
        for symbol_id in symbol_ids:
            book = self.books[symbol_id]
            trades, orders = book.engine.drain()
            results.append(persist.BookResults(book.symbol, book.engine, trades, orders))
            written.orders[symbol_id].update((order.id, order) for order in orders)
        for symbol_id, ids in persist.write_batch(results, owner=self.owner).items():
            written.trade_ids[symbol_id] += ids

    def _place_borrowing(self, commands: list[JournalEntry]) -> None:
        """PLACEs counting on funds their batch's cancels free: lock those
        funds now that the cancels are written, in journal order; an order
        they no longer cover (its cancel found the order filled) is rejected."""
        live = [command for command in commands if command.order.status == c.PENDING]
        funded = persist.fund_borrowed([
            (command.order_id, command.order.user_id, command.order.locked_asset, command.borrowed) for command in live
        ])
        for command in live:
            book = self.books[command.symbol_id]
            if command.order_id in funded:
                row = command.order._replace(locked_amount=command.order.locked_amount + command.borrowed)
                book.engine.place(to_engine_order(row, book.symbol.scale))
            else:
                book.engine.reject(to_engine_order(command.order, book.symbol.scale), c.INSUFFICIENT_BALANCE)

    def _apply(self, command: JournalEntry) -> None:
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

    def _after_commit(self, result: BatchResult) -> None:
        announce_processed(result.command_ids)
        enqueue_settlement(result.trade_ids)
        self.published.update({change.symbol.id: change for change in result.market})
        publish(result.market)  # never blocks: a full queue drops, clients resync

    def heartbeat(self) -> None:
        MatcherState.objects.filter(symbol_id__in=self.books).update(heartbeat_at=timezone.now(), owner=self.owner)
