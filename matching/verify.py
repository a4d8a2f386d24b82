"""Replay a symbol's journal and compare it with what the matcher stored.

From the symbol's checkpoint when there is one: the replay starts from the
book the checkpoint holds and applies only the commands processed after it;
it compares the trades made after it, the orders it can know (those live at
the checkpoint and those placed after it), the stored book and the orders
left PENDING. Orders that ended before the checkpoint were compared by the
replay that took it. `full=True` ignores the checkpoint and replays the
archived and the hot journal from the beginning (an audit, slow).

Callers read everything in one REPEATABLE READ snapshot (`snapshot()`), so a
running matcher or archiver does not matter.
"""

from __future__ import annotations

import heapq
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction

from matching.engine import constants as c
from orders.models import Order, Trade

from .checkpoint import Snapshot, live_orders, snapshot
from .host import build_book
from .models import ArchivedCommand, EngineCommand, JournalCheckpoint
from .replay import Replay, apply, diff_lists, diff_orders, start

DEPTH = 1000
CHUNK = 5000


@dataclass
class Verification:
    replayed: Replay
    checkpoint: JournalCheckpoint | None
    trades: int = 0
    orders: int = 0
    levels: tuple[int, int] = (0, 0)
    problems: list[str] = field(default_factory=list)
    taken: Snapshot | None = None  # the book as of `snapshot_at`, when asked for

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        text = (
            f"{self.replayed.commands} commands, {self.trades} trades, {self.orders} orders,"
            f" {self.levels[0]} bid / {self.levels[1]} ask levels"
        )
        if self.checkpoint is not None:
            text += f" (after the checkpoint through {self.checkpoint.through.isoformat()})"
        return text


@contextmanager
def snapshot_transaction(read_only: bool = False):
    """One transaction that sees one snapshot of the whole database."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ" + (" READ ONLY" if read_only else ""))
        yield


def processed_commands(symbol, *, after: datetime | None = None, archived: bool = False):
    """A symbol's processed commands in processing order (processed_at, then
    id: the matcher stamps one processed_at per batch and applies a batch in
    id order), with their orders; the archived ones too if asked."""
    hot = EngineCommand.objects.filter(symbol=symbol, processed_at__isnull=False)
    if after is not None:
        hot = hot.filter(processed_at__gt=after)
    streams = [hot]
    if archived:
        streams.append(ArchivedCommand.objects.filter(symbol=symbol))
    iterators = [
        q.select_related("order").order_by("processed_at", "id").iterator(chunk_size=2000) for q in streams
    ]
    if len(iterators) == 1:
        return iterators[0]
    # An interrupted archive run leaves some archived commands' neighbours hot.
    return heapq.merge(*iterators, key=lambda command: (command.processed_at, command.id))


def verify_symbol(symbol, *, full: bool = False, snapshot_at: datetime | None = None) -> Verification:
    """Replay and compare one symbol. With `snapshot_at`, also freeze the
    replayed book as it stood after the commands processed up to then."""
    scale = symbol.scale
    checkpoint = None if full else JournalCheckpoint.objects.filter(symbol=symbol).first()
    replayed = start(symbol.name, checkpoint)
    result = Verification(replayed, checkpoint)
    base = checkpoint.commands if checkpoint else 0
    last_id = checkpoint.last_command_id if checkpoint else 0
    commands = processed_commands(symbol, after=checkpoint.through if checkpoint else None, archived=full)
    for command in commands:
        if snapshot_at is not None and result.taken is None and command.processed_at > snapshot_at:
            result.taken = _freeze(replayed, snapshot_at, last_id, base)
        apply(replayed, scale, command)
        last_id = command.id
    if snapshot_at is not None and result.taken is None:
        result.taken = _freeze(replayed, snapshot_at, last_id, base)
    _compare(symbol, result)
    return result


def _freeze(replayed: Replay, through: datetime, last_id: int, base: int) -> Snapshot:
    return snapshot(replayed.engine, through=through, last_command_id=last_id, commands=base + replayed.commands)


def _compare(symbol, result: Verification) -> None:
    scale = symbol.scale
    replayed, checkpoint = result.replayed, result.checkpoint
    trades = Trade.objects.filter(symbol=symbol)
    if checkpoint is not None:
        trades = trades.filter(sequence__gt=checkpoint.trade_sequence)
    stored_trades = [
        (t.sequence, scale.to_ticks(t.price), scale.to_lots(t.quantity), t.maker_order_id, t.taker_order_id)
        for t in trades.order_by("sequence").iterator(chunk_size=2000)
    ]
    stored_orders = _stored_orders(symbol, None if checkpoint is None else sorted(replayed.orders))
    still_pending = (
        Order.objects.filter(symbol=symbol, status=c.PENDING, commands__processed_at__isnull=False)
        .distinct()
        .values_list("id", flat=True)
    )
    stored_book = build_book(symbol).engine
    bids, asks = replayed.engine.depth(DEPTH)
    stored_bids, stored_asks = stored_book.depth(DEPTH)
    replay_live = {order.id for order in live_orders(replayed.engine)}
    stored_live = {order.id for order in live_orders(stored_book)}

    result.trades, result.orders, result.levels = len(stored_trades), len(stored_orders), (len(bids), len(asks))
    result.problems = (
        diff_lists("trade", replayed.trades, stored_trades)
        + diff_orders(replayed.orders, stored_orders)
        + [f"order {order_id}: its command was processed but it is still PENDING" for order_id in still_pending]
        + diff_lists("bid level", bids, stored_bids)
        + diff_lists("ask level", asks, stored_asks)
        + [f"order {order_id}: live in the replay, not in the stored book" for order_id in sorted(replay_live - stored_live)][:10]
        + [f"order {order_id}: in the stored book, not live in the replay" for order_id in sorted(stored_live - replay_live)][:10]
    )


def _stored_orders(symbol, ids: list[int] | None) -> dict[int, tuple[str, int]]:
    """Order id -> (status, filled lots) for the orders whose commands were
    all processed: every such order of the symbol, or only those in `ids`."""
    scale = symbol.scale
    unprocessed = EngineCommand.objects.filter(symbol=symbol, processed_at__isnull=True).values("order_id")
    queryset = Order.objects.filter(symbol=symbol).exclude(id__in=unprocessed)
    batches = [queryset] if ids is None else [queryset.filter(id__in=ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)]
    return {
        order_id: (status, scale.to_lots(filled))
        for batch in batches
        for order_id, status, filled in batch.values_list("id", "status", "filled_quantity").iterator(chunk_size=CHUNK)
    }
