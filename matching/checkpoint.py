"""A replayed engine's state as a JournalCheckpoint row, and back.

The checkpoint holds what a fresh engine needs to continue a replay as if
it had applied every earlier command: its sequences, last price, and the
resting orders and untriggered stops with their engine fields (integers:
ticks, lots, notional units), in time priority.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from matching.engine import MatchingEngine
from matching.engine import Order as EngineOrder

from .models import JournalCheckpoint

# Engine order fields kept per live order, in the order stored.
FIELDS = (
    "id", "user_id", "side", "type", "time_in_force", "price", "stop_price", "quantity", "filled", "spent",
    "quote_budget", "post_only", "stp", "status", "seq", "triggered",
)


@dataclass
class Snapshot:
    """A replayed engine frozen at a point of the journal."""

    through: datetime
    last_command_id: int
    commands: int
    book_sequence: int
    trade_sequence: int
    order_sequence: int
    last_price: int | None
    orders: list[list]


def live_orders(engine: MatchingEngine) -> list[EngineOrder]:
    """Resting orders and untriggered stops, in time priority."""
    return sorted([*engine.resting.values(), *engine.stops.orders()], key=lambda order: order.seq)


def snapshot(engine: MatchingEngine, *, through: datetime, last_command_id: int, commands: int) -> Snapshot:
    return Snapshot(
        through=through,
        last_command_id=last_command_id,
        commands=commands,
        book_sequence=engine.sequence,
        trade_sequence=engine.trade_seq,
        order_sequence=engine.order_seq,
        last_price=engine.last_price,
        orders=[[getattr(order, name) for name in FIELDS] for order in live_orders(engine)],
    )


def save(symbol, taken: Snapshot) -> JournalCheckpoint:
    checkpoint, _ = JournalCheckpoint.objects.update_or_create(symbol=symbol, defaults=vars(taken))
    return checkpoint


def restore(name: str, checkpoint: JournalCheckpoint) -> MatchingEngine:
    """A fresh engine holding the checkpoint's book and sequences."""
    engine = MatchingEngine(name)
    for values in checkpoint.orders:
        fields = dict(zip(FIELDS, values))
        order = EngineOrder(
            fields.pop("id"), fields.pop("user_id"), fields.pop("side"), fields.pop("quantity"), fields.pop("price"),
            **fields,
        )
        engine.restore(order)
    engine.sequence = checkpoint.book_sequence
    engine.trade_seq = checkpoint.trade_sequence
    engine.order_seq = max(engine.order_seq, checkpoint.order_sequence)
    engine.last_price = checkpoint.last_price
    return engine
