"""Journaling cancels in bulk: one order's cancel, a batch's, cancel-all.

The orders are row-locked in id order and their cancels written in one
INSERT, so a request costs the same few statements for one cancel or
hundreds. Runs inside the caller's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q

from core.errors import DomainError
from matching import services as matching
from matching.engine import constants as c
from matching.models import EngineCommand

from . import errors
from .models import Order


@dataclass(frozen=True)
class CancelRef:
    """Which order to cancel: by id, or else by client_order_id."""

    order_id: int | None = None
    client_order_id: str = ""


@dataclass
class Cancellation:
    """What became of one cancel: the order and its CANCEL command (a new
    one, or the one already waiting for the matcher), or an error."""

    ref: CancelRef
    order: Order | None = None
    command: EngineCommand | None = None
    error: DomainError | None = None


def journal_cancels(*, user, refs: list[CancelRef | DomainError], reason: str = c.CANCELLED_BY_USER) -> list[Cancellation]:
    """Journal a cancel for each of the user's orders named, in request order.

    Items that are already errors (a reference that did not parse) are
    passed through. An order not found (or another user's) is ORDER_NOT_FOUND, a final one
    ORDER_NOT_CANCELLABLE; an order with a cancel already waiting for the
    matcher answers with that command, so a repeated request queues nothing.
    """
    orders = _orders_for_update(user, refs)
    waiting = {
        command.order_id: command
        for command in EngineCommand.objects.filter(
            order_id__in=[o.id for o in orders.values() if not o.is_final], kind=EngineCommand.Kind.CANCEL, processed_at__isnull=True
        )
    }
    results, new = [], {}
    for ref in refs:
        if isinstance(ref, DomainError):
            results.append(Cancellation(CancelRef(), error=ref))
            continue
        order = orders.get(ref.order_id) if ref.order_id is not None else orders.get(ref.client_order_id)
        result = Cancellation(ref, order)
        results.append(result)
        if order is None:
            result.error = errors.OrderNotFound(**_named(ref))
        elif order.is_final:
            result.error = errors.OrderNotCancellable(order_id=order.id, status=order.status)
        elif order.id in waiting:
            result.command = waiting[order.id]
        else:
            if order.id not in new:
                new[order.id] = matching.cancel_command(order.id, order.symbol_id, reason)
            result.command = new[order.id]
    matching.submit_commands(list(new.values()))
    return results


def released_by(cancellations: list[Cancellation]) -> dict[str, Decimal]:
    """Per asset, what the cancelled orders' locks hold beyond what their
    fills so far used: what the cancels release if the orders fill no more
    before the matcher applies them (the matcher has the last word)."""
    credit: dict[str, Decimal] = defaultdict(Decimal)
    counted: set[int] = set()
    for result in cancellations:
        order = result.order
        if result.command is None or order.id in counted:
            continue
        counted.add(order.id)
        used = order.executed_quote if order.side == c.BUY else order.filled_quantity
        credit[order.locked_asset] += max(order.locked_amount - used, Decimal("0"))
    return dict(credit)


def _named(ref: CancelRef) -> dict:
    return {"order_id": ref.order_id} if ref.order_id is not None else {"client_order_id": ref.client_order_id}


def _orders_for_update(user, refs: list) -> dict:
    """The user's orders named, row-locked in id order (one query), keyed by
    id and by client_order_id."""
    refs = [ref for ref in refs if isinstance(ref, CancelRef)]
    ids = {ref.order_id for ref in refs if ref.order_id is not None}
    client_ids = {ref.client_order_id for ref in refs if ref.order_id is None and ref.client_order_id}
    if not ids and not client_ids:
        return {}
    # Lock the order rows only: a plain FOR UPDATE would also lock the joined
    # symbol row, which the matcher holds while a batch writes last_price.
    queryset = Order.objects.select_for_update(of=("self",)).select_related("symbol").filter(user=user)
    found: dict = {}
    for order in queryset.filter(Q(id__in=ids) | Q(client_order_id__in=client_ids)).order_by("id"):
        found[order.id] = order
        if order.client_order_id in client_ids:
            found[order.client_order_id] = order
    return found
