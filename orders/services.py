"""The write path for orders: place, cancel, batch, amend and cancel-all,
and waiting for the matcher's answer. API, admin and commands all come
through here; placing and cancelling go through the bulk writers
(placement, cancellation), a single order being the batch of one."""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F

from core.errors import DomainError
from matching import services as matching
from matching.engine import constants as c
from matching.models import EngineCommand
from riskadmin.errors import UserNotFound
from riskadmin.services import record_audit
from settlement import balances

from . import errors
from . import limits as risk
from . import selectors
from .cancellation import Cancellation, CancelRef, journal_cancels, released_by
from .models import Order
from .placement import Placement, place_orders
from .selectors import own_order
from .validation import OrderRequest, validate_order

log = logging.getLogger(__name__)

CANCELLED_BY_OPERATOR = "Cancelled by operator"
MAX_BATCH_ITEMS = 50  # of each kind, cancels and orders


# PostgreSQL aborts one of two transactions that wait on each other's rows:
# the matcher's batch locks orders and balances in the order its commands
# need them, a request locks an order and then its owner's balance.
DEADLOCK_DETECTED = "40P01"
LOST_RACE_RETRIES = 3


def _lost_a_deadlock(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == DEADLOCK_DETECTED


def _atomic_retrying(write):
    """Run `write` in a transaction, and again when it lost a race, which
    rolled it back whole (locks included), so nothing was written. Two
    requests with the same client_order_id: running it again answers with
    the winner's order. A deadlock (with the matcher): running it again
    waits for the other transaction instead. Inside a caller's transaction
    a deadlock is the caller's to handle: its own locks are still held."""
    retry_deadlocks = not connection.in_atomic_block
    for attempt in range(LOST_RACE_RETRIES + 1):
        try:
            with transaction.atomic():
                return write()
        except IntegrityError:
            if attempt > 0:
                raise
        except OperationalError as exc:
            if not (retry_deadlocks and _lost_a_deadlock(exc)) or attempt == LOST_RACE_RETRIES:
                raise
            log.info("order transaction broken by a deadlock; running it again", extra={"attempt": attempt + 1})
    raise AssertionError("unreachable")


def place_order(*, user, request: OrderRequest) -> tuple[Order, EngineCommand | None]:
    """Validate, lock funds, and journal the order for the matcher (the
    batch of one). Returns (order, command); command is None when
    client_order_id matched an earlier order: that order is returned
    unchanged and nothing is written."""
    placement = _atomic_retrying(lambda: place_orders(user=user, requests=[request]))[0]
    if placement.error is not None:
        raise placement.error
    return placement.order, placement.command


def cancel_order(*, user, order_id: int, reason: str = c.CANCELLED_BY_USER) -> tuple[Order, EngineCommand]:
    """Journal a cancel for the matcher. Returns (order, command).

    If a cancel for the order is already waiting for the matcher, that
    command is returned: a repeated DELETE does not queue another one.
    """
    result = _atomic_retrying(lambda: journal_cancels(user=user, refs=[CancelRef(order_id)], reason=reason)[0])
    if result.error is not None:
        raise result.error
    return result.order, result.command


class Outcome(enum.Enum):
    """What became of a request by the time its answer is given."""

    REPEATED = "repeated"  # client_order_id matched an earlier order: nothing new was written
    APPLIED = "applied"  # the matcher applied it: the order is as the book left it
    PENDING = "pending"  # journaled, the matcher has not answered in time; it will apply it


@dataclass
class Batch:
    """What a batch request did, item by item in request order, and whether
    the matcher answered for all of it in time."""

    cancellations: list[Cancellation]
    placements: list[Placement]
    outcome: Outcome | None = None  # set once waited for

    @property
    def placed_any(self) -> bool:
        return any(p.is_new for p in self.placements)


def check_batch_size(*, cancels: int, orders: int) -> None:
    """BatchTooLarge when either kind has more than MAX_BATCH_ITEMS items."""
    if cancels > MAX_BATCH_ITEMS or orders > MAX_BATCH_ITEMS:
        raise errors.BatchTooLarge(max_items=MAX_BATCH_ITEMS, cancels=cancels, orders=orders)


def submit_batch(*, user, cancels: list[CancelRef | DomainError], orders: list[OrderRequest | DomainError]) -> Batch:
    """Cancels, then orders, in one transaction; each item judged on its own.

    New orders may draw on what the batch's cancels release (the matcher
    locks it once the cancels are applied, or rejects such an order with
    INSUFFICIENT_BALANCE when the cancelled order filled first). More than
    MAX_BATCH_ITEMS of either kind: BatchTooLarge, nothing written.
    """
    check_batch_size(cancels=len(cancels), orders=len(orders))

    def write() -> Batch:
        cancellations = journal_cancels(user=user, refs=cancels)
        return Batch(cancellations, place_orders(user=user, requests=orders, credit=released_by(cancellations)))

    return _atomic_retrying(write)


def submit_batch_and_wait(*, user, cancels: list[CancelRef], orders: list, timeout: float | None = None) -> Batch:
    """submit_batch, then wait for the matcher(s) under one deadline; the
    orders are returned as they then stand. A cancel the matcher applied to
    an order that had already ended answers ORDER_NOT_CANCELLABLE."""
    batch = submit_batch(user=user, cancels=cancels, orders=orders)
    commands = [p.command for p in batch.placements if p.is_new] + [r.command for r in batch.cancellations if r.command]
    batch.outcome = _wait_all(commands, timeout)
    ids = {p.order.id for p in batch.placements if p.order} | {r.order.id for r in batch.cancellations if r.command}
    current = {o.id: o for o in selectors.orders_for_user(user=user).filter(id__in=ids)} if ids else {}
    for placement in batch.placements:
        if placement.order is not None:
            placement.order = current[placement.order.id]
    for result in batch.cancellations:
        if result.command is None:
            continue
        result.order = current[result.order.id]
        if batch.outcome is Outcome.APPLIED and result.order.status != c.CANCELLED:
            result.error = errors.OrderNotCancellable(order_id=result.order.id, status=result.order.status)
    return batch


def amend_order(
    *, user, order_id: int, quantity: Decimal | None = None, price: Decimal | None = None,
    stop_price: Decimal | None = None,
) -> tuple[Order, EngineCommand]:
    """Journal an amend (new total quantity, price, stop price; None keeps
    the current value) and lock what it may need beyond the current lock.

    The order row is left as it is: the matcher writes the new values when
    it applies the amend, and then releases what the lock holds beyond what
    the order still needs. Any refusal raised here writes nothing.
    """
    return _atomic_retrying(
        lambda: _journal_amend(user=user, order_id=order_id, quantity=quantity, price=price, stop_price=stop_price)
    )


def _journal_amend(*, user, order_id: int, quantity, price, stop_price) -> tuple[Order, EngineCommand]:
    order = _order_for_update(user=user, order_id=order_id)
    if order.is_final:
        raise errors.OrderNotCancellable(order_id=order.id, status=order.status)
    if order.type == c.MARKET or (order.type == c.STOP_MARKET and order.side == c.BUY):
        raise errors.OrderNotAmendable(order_id=order.id, type=order.type, side=order.side)
    request = _amended_request(order, quantity=quantity, price=price, stop_price=stop_price)
    risk.UserLimitGate.open(user.id).judge_amend(request)
    if order.commands.filter(kind=EngineCommand.Kind.AMEND, processed_at__isnull=True).exists():
        raise errors.AmendPending(order_id=order.id)
    command = matching.submit_command(
        order=order, kind=EngineCommand.Kind.AMEND,
        quantity=request.quantity, price=request.price, stop_price=request.stop_price,
    )
    growth = _lock_growth(order, request)
    if growth > 0:
        balances.lock_order_funds(
            order_id=order.id, user_id=user.id, asset=order.locked_asset, amount=growth, leg=f"amend-lock-{command.id}"
        )
        Order.objects.filter(id=order.id).update(locked_amount=F("locked_amount") + growth)
    return order, command


def _order_for_update(*, user, order_id: int) -> Order:
    try:
        # Lock the order row only: a plain FOR UPDATE would also lock the joined
        # symbol row, which the matcher holds while a batch writes last_price.
        return Order.objects.select_for_update(of=("self",)).select_related("symbol").get(id=order_id, user=user)
    except Order.DoesNotExist:
        raise errors.OrderNotFound(order_id=order_id) from None


def _amended_request(order: Order, *, quantity, price, stop_price) -> OrderRequest:
    """The order as amended, judged by the rules a new order passes."""
    if stop_price is not None and order.triggered and stop_price != order.stop_price:
        raise errors.InvalidPrice("A triggered stop's stop_price cannot change.", field="stop_price")
    request = OrderRequest(
        symbol=order.symbol, side=order.side, type=order.type,
        quantity=order.quantity if quantity is None else quantity,
        price=order.price if price is None else price,
        stop_price=order.stop_price if stop_price is None else stop_price,
        time_in_force=order.time_in_force, post_only=order.post_only,
        self_trade_prevention=order.self_trade_prevention,
    )
    validate_order(request)
    if request.quantity <= order.filled_quantity:
        raise errors.InvalidQuantity(
            "quantity (the new total) must stay above the filled quantity.", filled_quantity=f"{order.filled_quantity:f}"
        )
    risk.check_symbol_limits(request)
    return request


def _lock_growth(order: Order, request: OrderRequest) -> Decimal:
    """What the lock must grow by to cover the amended order whatever
    fills the old version gets before the matcher applies the amend.

    A sell needs its total quantity. A limit buy needs what it spent plus its
    price times what is left; until the amend is applied the old version may
    still fill at its old price, at most up to the smaller quantity, so the
    bound counts those lots at the higher of the two prices.
    """
    if order.side == c.SELL:
        return request.quantity - order.locked_amount
    filled, old_price, new_price = order.filled_quantity, order.price, request.price
    needed = order.executed_quote + new_price * (request.quantity - filled)
    if old_price > new_price:
        needed += (old_price - new_price) * (min(order.quantity, request.quantity) - filled)
    return needed - order.locked_amount


def place_order_and_wait(*, user, request: OrderRequest, timeout: float | None = None) -> tuple[Order, Outcome]:
    """Place an order and wait up to `timeout` seconds (ORDER_RESULT_TIMEOUT)
    for the matcher. Returns the order as it then stands, fills included."""
    order, command = place_order(user=user, request=request)
    outcome = Outcome.REPEATED if command is None else _wait(command, timeout)
    return own_order(user=user, order_id=order.id), outcome


def cancel_order_and_wait(
    *, user, order_id: int | None = None, client_order_id: str = "", timeout: float | None = None
) -> tuple[Order, Outcome]:
    """Cancel an order (by id, or else by client_order_id) and wait for the
    matcher. Raises OrderNotCancellable when the order filled (or ended
    otherwise) before the cancel reached the book."""
    if order_id is None:
        order_id = selectors.own_order_id(user=user, client_order_id=client_order_id)
    order, command = cancel_order(user=user, order_id=order_id)
    outcome = _wait(command, timeout)
    order = own_order(user=user, order_id=order.id)
    if outcome is Outcome.APPLIED and order.status != c.CANCELLED:
        raise errors.OrderNotCancellable(order_id=order.id, status=order.status)
    return order, outcome


def amend_order_and_wait(
    *, user, order_id: int | None = None, client_order_id: str = "", timeout: float | None = None, **values
) -> tuple[Order, Outcome]:
    """Amend an order (by id, or else by client_order_id) and wait for the
    matcher. Raises OrderNotCancellable when the order ended before the
    amend reached the book (the amend was then a no-op); an order that the
    amend itself made trade to the end is answered as it stands."""
    if order_id is None:
        order_id = selectors.own_order_id(user=user, client_order_id=client_order_id)
    _, command = amend_order(user=user, order_id=order_id, **values)
    outcome = _wait(command, timeout)
    order = own_order(user=user, order_id=order_id)
    amended = (order.quantity, order.price, order.stop_price) == (command.quantity, command.price, command.stop_price)
    if outcome is Outcome.APPLIED and order.is_final and not amended:
        raise errors.OrderNotCancellable(order_id=order.id, status=order.status)
    return order, outcome


def _wait(command: EngineCommand, timeout: float | None) -> Outcome:
    return _wait_all([command], timeout)


def _journal_cancels(*, user, order_ids: list[int], reason: str) -> list[Cancellation]:
    """Journal a cancel for each of the user's orders; an order that ended
    meanwhile is skipped. Returns the cancels journaled (or waiting)."""
    results = journal_cancels(user=user, refs=[CancelRef(order_id) for order_id in order_ids], reason=reason)
    return [result for result in results if result.command is not None]


def _live_order_ids(*, user_id: int, symbol_id: int | None = None) -> list[int]:
    queryset = Order.objects.filter(user_id=user_id, status__in=Order.LIVE_STATUSES)
    if symbol_id is not None:
        queryset = queryset.filter(symbol_id=symbol_id)
    return list(queryset.order_by("id").values_list("id", flat=True))


@transaction.atomic
def cancel_all_orders(*, user_id: int, actor, reason: str = CANCELLED_BY_OPERATOR, ip: str | None = None) -> dict:
    """An operator's emergency stop for one user: journal a cancel for every
    live order, stops included, and audit it.

    Returns {cancelled, total}: total live orders found, cancelled = cancels
    journaled (an order that ended meanwhile is counted in total only).
    """
    user = get_user_model().objects.filter(id=user_id).first()
    if user is None:
        raise UserNotFound(user_id=user_id)
    reason = (reason or CANCELLED_BY_OPERATOR)[:64]
    order_ids = _live_order_ids(user_id=user_id)
    journaled = _journal_cancels(user=user, order_ids=order_ids, reason=reason)
    result = {"cancelled": len(journaled), "total": len(order_ids)}
    record_audit(actor=actor, action="orders.cancel_all", target=f"user:{user_id}", payload={"reason": reason, "order_ids": order_ids, **result}, ip=ip)
    return result


def cancel_own_orders_and_wait(*, user, symbol_id: int | None = None, timeout: float | None = None) -> tuple[list[Order], Outcome]:
    """Cancel every live order of the user (of one symbol, or all), stops
    included, in one transaction, and wait for the matcher(s).

    Returns the orders a cancel was journaled for, as they then stand, and
    APPLIED when every cancel was applied in time, else PENDING.
    """
    journaled = _atomic_retrying(lambda: _journal_cancels(
        user=user, order_ids=_live_order_ids(user_id=user.id, symbol_id=symbol_id), reason=c.CANCELLED_BY_USER
    ))
    outcome = _wait_all([result.command for result in journaled], timeout)
    orders = selectors.orders_for_user(user=user).filter(id__in=[result.order.id for result in journaled]).order_by("id")
    return list(orders), outcome


def _wait_all(commands: list[EngineCommand], timeout: float | None) -> Outcome:
    """Wait for several commands under one deadline. A symbol's commands are
    applied in id order and a request's commit together, so waiting for the
    newest of each symbol waits for all of them."""
    timeout = settings.ORDER_RESULT_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    newest: dict[int, int] = {}
    for command in commands:
        newest[command.symbol_id] = max(newest.get(command.symbol_id, 0), command.id)
    for command_id in sorted(newest.values()):
        if not matching.wait_for_command(command_id, max(0.0, deadline - time.monotonic())):
            return Outcome.PENDING
    return Outcome.APPLIED
