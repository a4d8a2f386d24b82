"""Replaying the command journal through a fresh engine, and comparing the
result with what the matcher stored. Used by `manage.py verify_book`."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from decimal import Decimal

from matching.engine import MatchingEngine
from matching.engine import Order as EngineOrder
from matching.engine import constants as c

from .checkpoint import live_orders
from .checkpoint import restore as restore_checkpoint
from .convert import amend_arguments, to_engine_order
from .models import EngineCommand

MAX_SHOWN = 10  # differences listed per kind before "... and N more"


@dataclass
class Replay:
    engine: MatchingEngine
    trades: list[tuple] = field(default_factory=list)  # (seq, price, qty, maker id, taker id)
    orders: dict[int, EngineOrder] = field(default_factory=dict)
    commands: int = 0


def as_placed(order, scale, command=None) -> EngineOrder:
    """The engine order for an Order row as it was placed: no fills, no state,
    and the quantity and prices its PLACE command recorded (amends change the row)."""
    original = copy.copy(order)
    if command is not None and command.quantity is not None:
        original.quantity, original.price, original.stop_price = command.quantity, command.price, command.stop_price
    original.filled_quantity = Decimal("0")
    original.executed_quote = Decimal("0")
    original.status = c.PENDING
    original.sequence = 0
    original.triggered = False
    return to_engine_order(original, scale)


def start(name: str, checkpoint=None) -> Replay:
    """A fresh engine, or one holding a checkpoint's book; the checkpoint's
    live orders are the ones the replay can compare from there on."""
    if checkpoint is None:
        return Replay(MatchingEngine(name))
    engine = restore_checkpoint(name, checkpoint)
    return Replay(engine, orders={order.id: order for order in live_orders(engine)})


def apply(result: Replay, scale, command) -> None:
    """Apply one processed command as the matcher did."""
    engine = result.engine
    if command.kind == EngineCommand.Kind.PLACE:
        order = as_placed(command.order, scale, command)
        result.orders[order.id] = order
        if command.order.reject_reason == c.INSUFFICIENT_BALANCE:  # the batch's cancels freed too little
            engine.reject(order, c.INSUFFICIENT_BALANCE)
        else:
            engine.place(order)
    elif command.kind == EngineCommand.Kind.AMEND:
        amended = engine.amend(command.order_id, **amend_arguments(command, scale))
        if amended is not None:
            result.orders[amended.id] = amended
    else:
        engine.cancel(command.order_id, command.reason or c.CANCELLED_BY_USER)
    trades, _ = engine.drain()
    result.trades += [t.as_tuple()[:5] for t in trades]
    result.commands += 1


def diff_lists(label: str, expected: list, actual: list) -> list[str]:
    """Line-by-line differences of two sequences (replayed vs stored)."""
    problems = []
    if len(expected) != len(actual):
        problems.append(f"{label}: replay has {len(expected)}, stored has {len(actual)}")
    for index, (want, got) in enumerate(zip(expected, actual)):
        if want != got:
            problems.append(f"{label}[{index}]: replay {want} != stored {got}")
    return _capped(problems)


def diff_orders(replayed: dict[int, EngineOrder], stored: dict[int, tuple[str, int]]) -> list[str]:
    """stored: order id -> (status, filled lots), for orders fully processed."""
    problems = []
    for order_id, (status, filled) in sorted(stored.items()):
        order = replayed.get(order_id)
        if order is None:
            problems.append(f"order {order_id}: stored as {status} but never placed in the replay")
        elif (order.status, order.filled) != (status, filled):
            problems.append(
                f"order {order_id}: replay {order.status} filled {order.filled} lots,"
                f" stored {status} filled {filled} lots"
            )
    return _capped(problems)


def _capped(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_SHOWN:
        return problems
    return problems[:MAX_SHOWN] + [f"... and {len(problems) - MAX_SHOWN} more"]
