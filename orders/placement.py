"""Placing orders in bulk: the write path of one order and of a batch.

The orders of a request are judged and funded one after the other in
request order, as if sent one by one, and written together: the orders, the
balance moves, their ledger lines and the matcher's commands cost the same
few statements for one order or fifty. An order that breaks a rule is
refused on its own and never fails the others.

Runs inside the caller's transaction (services opens it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core import metrics
from core.errors import DomainError
from matching.engine import constants as c
from matching.models import EngineCommand
from settlement import balances
from settlement.errors import InsufficientBalance

from . import errors
from . import limits as risk
from .models import Order
from .validation import OrderRequest, validate_order

LOCK_QUANTUM = Decimal("1e-18")  # the balance column's precision
# What makes a repeated client_order_id "the same order": every stored request parameter.
COMPARED_FIELDS = (
    "symbol_id", "side", "type", "quantity", "price", "stop_price", "time_in_force",
    "post_only", "self_trade_prevention",
)
ZERO = Decimal("0")


def funds_to_lock(request: OrderRequest) -> tuple[str, Decimal | None]:
    """The asset and amount an order must lock; None means "all available".

    A sell locks its quantity. A limit buy locks price x quantity. A market
    buy locks quote_order_qty if given, else the whole available quote, and
    the engine never lets it spend more. A stop-market buy locks stop price x
    quantity plus STOP_MARKET_BUY_BUFFER.
    """
    symbol = request.symbol
    if request.side == c.SELL:
        return symbol.base_asset, request.quantity
    if request.type in (c.LIMIT, c.STOP_LIMIT):
        return symbol.quote_asset, request.price * request.quantity
    if request.type == c.STOP_MARKET:
        amount = request.stop_price * request.quantity * (1 + settings.STOP_MARKET_BUY_BUFFER)
        return symbol.quote_asset, amount.quantize(LOCK_QUANTUM, rounding=ROUND_UP)
    return symbol.quote_asset, request.quote_order_qty


@dataclass
class Placement:
    """What became of one order of a request: a new order and its command,
    the earlier order its client_order_id names (command None), or an error."""

    order: Order | None = None
    command: EngineCommand | None = None
    error: DomainError | None = None

    @property
    def is_new(self) -> bool:
        return self.command is not None


@dataclass
class Funds:
    """What the user's orders of one request may lock, by asset: the
    available balances (row-locked) and what the request's own cancels are
    to release (`credit`), drawn in request order."""

    available: dict[str, Decimal]
    credit: dict[str, Decimal] = field(default_factory=dict)

    def draw(self, asset: str, amount: Decimal | None) -> tuple[Decimal, Decimal]:
        """(locked now, borrowed from the credit) for an order needing
        `amount` (None: all that is available), or InsufficientBalance."""
        available = self.available.get(asset, ZERO)
        if amount is None:
            if available <= 0:
                raise InsufficientBalance(asset=asset, required="any")
            self.available[asset] = ZERO
            return available, ZERO
        if amount <= 0:
            raise InsufficientBalance(asset=asset, required=f"{amount:f}")
        now = min(available, amount)
        borrowed = amount - now
        credit = self.credit.get(asset, ZERO)
        if borrowed > credit:
            raise InsufficientBalance(asset=asset, required=f"{amount:f}", available=f"{available:f}")
        self.available[asset] = available - now
        if borrowed:
            self.credit[asset] = credit - borrowed
        return now, borrowed


def place_orders(*, user, requests: list[OrderRequest | DomainError], credit: Mapping[str, Decimal] | None = None) -> list[Placement]:
    """Judge, fund and write the orders of one request; one Placement per
    item, in request order. Items that are already errors (a body that did
    not parse) are passed through. `credit`: per asset, what cancels
    journaled in this transaction are to release, which orders may borrow.

    A repeated client_order_id answers with the earlier order (nothing
    written); the same one twice in one request refuses the second.
    """
    placements = [Placement(error=item) if isinstance(item, DomainError) else Placement() for item in requests]
    pending = [(index, item) for index, item in enumerate(requests) if not isinstance(item, DomainError)]
    pending = _drop_repeats(user, pending, placements)
    pending = _judge(pending, placements)
    if not pending:
        return placements
    halted = risk.halted_symbols(request.symbol.id for _, request in pending)
    gate = risk.UserLimitGate.open(user.id)
    assets = {funds_to_lock(request)[0] for _, request in pending}
    available = balances.available_many_for_update((user.id, asset) for asset in assets)
    funds = Funds({asset: amount for (_, asset), amount in available.items()}, dict(credit or {}))
    accepted: list[tuple[int, Order, Decimal]] = []
    for index, request in pending:
        try:
            if request.symbol.id in halted:
                raise errors.SymbolHalted(symbol=request.symbol.name, reason=halted[request.symbol.id])
            notional = gate.judge(request)
            asset, amount = funds_to_lock(request)
            now, borrowed = funds.draw(asset, amount)
        except DomainError as exc:
            placements[index].error = exc
            continue
        gate.count(notional)
        accepted.append((index, _new_order(user, request, asset, now), borrowed))
    gate.close()
    _write(user, accepted, placements)
    return placements


def _drop_repeats(user, pending: list[tuple[int, OrderRequest]], placements: list[Placement]) -> list[tuple[int, OrderRequest]]:
    """Answer repeated client_order_ids with the earlier order (one query)."""
    wanted = {request.client_order_id for _, request in pending if request.client_order_id}
    if not wanted:
        return pending
    earlier = {o.client_order_id: o for o in Order.objects.filter(user=user, client_order_id__in=wanted).select_related("symbol")}
    seen: set[str] = set()
    left = []
    for index, request in pending:
        client_id = request.client_order_id
        if client_id in earlier:
            order = earlier[client_id]
            if _same_order(order, request):
                placements[index].order = order
            else:
                placements[index].error = errors.DuplicateClientOrderId(client_order_id=client_id, order_id=order.id)
        elif client_id and client_id in seen:
            placements[index].error = errors.DuplicateClientOrderId(client_order_id=client_id)
        else:
            seen.add(client_id)
            left.append((index, request))
    return left


def _same_order(order: Order, request: OrderRequest) -> bool:
    asked = {
        "symbol_id": request.symbol.id, "side": request.side, "type": request.type, "quantity": request.quantity,
        "price": request.price, "stop_price": request.stop_price, "time_in_force": request.time_in_force,
        "post_only": request.post_only, "self_trade_prevention": request.self_trade_prevention,
    }
    return all(getattr(order, name) == asked[name] for name in COMPARED_FIELDS)


def _judge(pending: list[tuple[int, OrderRequest]], placements: list[Placement]) -> list[tuple[int, OrderRequest]]:
    """The rules that read only the request and its symbol."""
    left = []
    for index, request in pending:
        try:
            validate_order(request)
            risk.check_symbol_limits(request)
        except DomainError as exc:
            placements[index].error = exc
            continue
        left.append((index, request))
    return left


def _new_order(user, request: OrderRequest, asset: str, locked: Decimal) -> Order:
    return Order(
        user=user, symbol=request.symbol, client_order_id=request.client_order_id, side=request.side,
        type=request.type, time_in_force=request.time_in_force, post_only=request.post_only,
        self_trade_prevention=request.self_trade_prevention, price=request.price, stop_price=request.stop_price,
        quantity=request.quantity, locked_asset=asset, locked_amount=locked,
    )


# The orders and their PLACE commands in one statement. Ids are drawn in
# the order rows are inserted, as Django's bulk_create also relies on for
# RETURNING; each command finds its order by that rank.
INSERT_ORDERS_AND_COMMANDS = f"""
WITH placed AS (
    INSERT INTO {Order._meta.db_table} (user_id, symbol_id, client_order_id, side, type, time_in_force, post_only,
        self_trade_prevention, price, stop_price, quantity, locked_asset, locked_amount, filled_quantity,
        executed_quote, status, reject_reason, cancel_reason, triggered, sequence, created_at, updated_at)
    SELECT %(user)s, v.symbol_id, v.client_order_id, v.side, v.type, v.time_in_force, v.post_only, v.stp, v.price,
        v.stop_price, v.quantity, v.locked_asset, v.locked_amount, 0, 0, %(pending)s, '', '', false, 0, %(now)s, %(now)s
    FROM unnest(%(symbol)s::bigint[], %(client_order_id)s::varchar[], %(side)s::varchar[], %(type)s::varchar[],
                %(time_in_force)s::varchar[], %(post_only)s::boolean[], %(stp)s::varchar[], %(price)s::numeric[],
                %(stop_price)s::numeric[], %(quantity)s::numeric[], %(locked_asset)s::varchar[], %(locked_amount)s::numeric[])
         WITH ORDINALITY AS v(symbol_id, client_order_id, side, type, time_in_force, post_only, stp, price, stop_price,
                              quantity, locked_asset, locked_amount, rank)
    ORDER BY v.rank
    RETURNING id, symbol_id, quantity, price, stop_price
), journaled AS (
    INSERT INTO {EngineCommand._meta.db_table} (symbol_id, kind, order_id, reason, quantity, price, stop_price,
        borrowed, created_at)
    SELECT p.symbol_id, %(place)s, p.id, '', p.quantity, p.price, p.stop_price, b.borrowed, %(now)s
    FROM (SELECT placed.*, row_number() OVER (ORDER BY placed.id) AS rank FROM placed) AS p
    JOIN unnest(%(borrowed)s::numeric[]) WITH ORDINALITY AS b(borrowed, rank) ON b.rank = p.rank
    RETURNING id, order_id
)
SELECT p.id, j.id FROM placed AS p JOIN journaled AS j ON j.order_id = p.id ORDER BY p.id
"""


def _write(user, accepted: list[tuple[int, Order, Decimal]], placements: list[Placement]) -> None:
    """The orders with their PLACE commands, then their locks with the
    ledger lines: two statements."""
    if not accepted:
        return
    orders = [order for _, order, _ in accepted]
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(INSERT_ORDERS_AND_COMMANDS, {
            "user": user.id, "now": now, "pending": c.PENDING, "place": EngineCommand.Kind.PLACE.value,
            "symbol": [o.symbol_id for o in orders], "client_order_id": [o.client_order_id for o in orders],
            "side": [o.side for o in orders], "type": [o.type for o in orders],
            "time_in_force": [o.time_in_force for o in orders], "post_only": [o.post_only for o in orders],
            "stp": [o.self_trade_prevention for o in orders], "price": [o.price for o in orders],
            "stop_price": [o.stop_price for o in orders], "quantity": [o.quantity for o in orders],
            "locked_asset": [o.locked_asset for o in orders], "locked_amount": [o.locked_amount for o in orders],
            "borrowed": [borrowed or None for _, _, borrowed in accepted],
        })
        ids = cursor.fetchall()
    if len(ids) != len(orders):
        raise AssertionError(f"{len(orders)} orders to write, {len(ids)} written")
    balances.lock_many((order_id, user.id, o.locked_asset, o.locked_amount) for (order_id, _), o in zip(ids, orders))
    for (index, order, borrowed), (order_id, command_id) in zip(accepted, ids):
        _as_stored(order, order_id, now)
        placements[index].order = order
        placements[index].command = EngineCommand(
            id=command_id, symbol_id=order.symbol_id, kind=EngineCommand.Kind.PLACE, order_id=order_id,
            quantity=order.quantity, price=order.price, stop_price=order.stop_price, borrowed=borrowed or None,
        )
        metrics.count_accepted_order(order)


def _as_stored(order: Order, order_id: int, now) -> None:
    """The in-memory order as the INSERT stored it."""
    order.id = order_id
    order.created_at = order.updated_at = now
    order._state.adding = False  # a stored row from here on (as Model.from_db leaves it)
    order._state.db = connection.alias
