"""Writing one batch of engine results: orders, trades, fills, released funds.

Runs inside the batch transaction; nothing here commits.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from django.db import connection
from django.utils import timezone

from matching.engine import Order as EngineOrder
from matching.engine import Trade as EngineTrade
from matching.engine import constants as c
from orders.models import Fill, Trade
from orders.models import Order as OrderRow
from riskadmin.models import Symbol
from settlement import balances

FEE_QUANTUM = Decimal("1e-8")
# One statement for the whole batch (bulk_update's CASE per column costs more
# to build than the write itself); it returns what releasing funds needs.
UPDATE_ORDERS = """
UPDATE orders_order AS o
SET status = v.status, filled_quantity = v.filled_quantity, executed_quote = v.executed_quote,
    cancel_reason = v.cancel_reason, reject_reason = v.reject_reason, sequence = v.sequence,
    triggered = v.triggered, quantity = v.quantity, price = v.price, stop_price = v.stop_price, updated_at = %s
FROM unnest(%s::bigint[], %s::varchar[], %s::numeric[], %s::numeric[], %s::varchar[], %s::varchar[],
            %s::bigint[], %s::boolean[], %s::numeric[], %s::numeric[], %s::numeric[])
     AS v(id, status, filled_quantity, executed_quote, cancel_reason, reject_reason, sequence, triggered,
          quantity, price, stop_price)
WHERE o.id = v.id
RETURNING o.id, o.user_id, o.side, o.locked_asset, o.locked_amount, v.status
"""


def fee(amount: Decimal, rate: Decimal) -> Decimal:
    """Fees round down to 1e-8 so a fee never exceeds its rate."""
    return (amount * rate).quantize(FEE_QUANTUM, rounding=ROUND_DOWN)


def write_orders(symbol: Symbol, orders: list[EngineOrder]) -> None:
    """Store the engine's view of each changed order and release what the
    finished ones no longer need."""
    if not orders:
        return
    scale = symbol.scale
    columns = (
        [o.id for o in orders],
        [o.status for o in orders],
        [scale.quantity(o.filled) for o in orders],
        [scale.quote(o.spent) for o in orders],
        [o.cancel_reason for o in orders],
        [o.reject_reason for o in orders],
        [o.seq for o in orders],
        [o.triggered for o in orders],
        [scale.quantity(o.quantity) for o in orders],  # amends change these three
        [None if o.price is None else scale.price(o.price) for o in orders],
        [None if o.stop_price is None else scale.price(o.stop_price) for o in orders],
    )
    with connection.cursor() as cursor:
        cursor.execute(UPDATE_ORDERS, [timezone.now(), *columns])
        written = cursor.fetchall()
    if len(written) != len(orders):
        raise AssertionError(f"{len(orders)} orders changed in the engine, {len(written)} found to store")
    by_id = {o.id: o for o in orders}
    locks = [row[:5] for row in written if row[5] in c.FINAL_STATUSES]
    if locks:
        release_unused_funds(scale, locks, by_id)


def release_unused_funds(scale, locks: list[tuple], orders: dict[int, EngineOrder]) -> None:
    """locks: (order id, user id, side, locked asset, locked amount) of
    orders that reached a final state."""
    releases = []
    for order_id, user_id, side, asset, locked in locks:
        engine_order = orders[order_id]
        used = scale.quote(engine_order.spent) if side == c.BUY else scale.quantity(engine_order.filled)
        unused = locked - used
        if unused < 0:
            raise AssertionError(f"order {order_id} spent {used} {asset} but locked only {locked}")
        releases.append((order_id, user_id, asset, unused))
    balances.release_order_funds(releases)


def release_amend_surplus(symbol: Symbol, order: EngineOrder, *, command_id: int) -> None:
    """After an amend command, shrink a live order's lock to what it may
    still need and release the rest: a sell needs its total quantity, a limit
    buy what it spent plus its price times what is left. Whatever the amend
    grew was locked when it was accepted, so the lock never falls short."""
    scale = symbol.scale
    if order.side == c.BUY:
        if order.price is None:  # a stop-market buy's lock is its budget: not amendable
            return
        needed = scale.quote(order.spent + order.price * (order.quantity - order.filled))
    else:
        needed = scale.quantity(order.quantity)
    user_id, asset, locked = OrderRow.objects.select_for_update().filter(id=order.id).values_list(
        "user_id", "locked_asset", "locked_amount"
    ).get()
    if locked < needed:
        raise AssertionError(f"order {order.id} needs {needed} {asset} but locked only {locked}")
    if locked > needed:
        OrderRow.objects.filter(id=order.id).update(locked_amount=needed)
        balances.release_order_funds([(order.id, user_id, asset, locked - needed)], leg=f"amend-release-{command_id}")


def write_trades(symbol: Symbol, trades: list[EngineTrade]) -> list[int]:
    """Insert trades and both fills of each; returns the new trade ids."""
    if not trades:
        return []
    scale = symbol.scale
    now = timezone.now()
    rows = []
    for t in trades:
        price, quantity = scale.price(t.price), scale.quantity(t.quantity)
        quote = scale.quote(t.price * t.quantity)
        taker_buys = t.taker_side == c.BUY
        buyer_rate = symbol.taker_fee if taker_buys else symbol.maker_fee
        seller_rate = symbol.maker_fee if taker_buys else symbol.taker_fee
        rows.append(
            Trade(
                symbol=symbol,
                sequence=t.seq,
                price=price,
                quantity=quantity,
                quote_quantity=quote,
                taker_side=t.taker_side,
                maker_order_id=t.maker_order_id,
                taker_order_id=t.taker_order_id,
                buyer_id=t.taker_user_id if taker_buys else t.maker_user_id,
                seller_id=t.maker_user_id if taker_buys else t.taker_user_id,
                buyer_fee=fee(quantity, buyer_rate),
                seller_fee=fee(quote, seller_rate),
                executed_at=now,
            )
        )
    Trade.objects.bulk_create(rows, batch_size=500)
    Fill.objects.bulk_create([fill for trade in rows for fill in _fills_of(symbol, trade)], batch_size=1000)
    return [trade.id for trade in rows]


def _fills_of(symbol: Symbol, trade: Trade) -> tuple[Fill, Fill]:
    taker_buys = trade.taker_side == c.BUY
    buy_order_id = trade.taker_order_id if taker_buys else trade.maker_order_id
    sell_order_id = trade.maker_order_id if taker_buys else trade.taker_order_id
    common = {"trade": trade, "symbol": symbol, "price": trade.price, "quantity": trade.quantity, "executed_at": trade.executed_at}
    buy = Fill(
        order_id=buy_order_id,
        user_id=trade.buyer_id,
        side=c.BUY,
        liquidity=Fill.Liquidity.TAKER if taker_buys else Fill.Liquidity.MAKER,
        fee=trade.buyer_fee,
        fee_asset=symbol.base_asset,
        **common,
    )
    sell = Fill(
        order_id=sell_order_id,
        user_id=trade.seller_id,
        side=c.SELL,
        liquidity=Fill.Liquidity.MAKER if taker_buys else Fill.Liquidity.TAKER,
        fee=trade.seller_fee,
        fee_asset=symbol.quote_asset,
        **common,
    )
    return buy, sell
