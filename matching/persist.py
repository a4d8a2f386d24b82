"""Writing one batch of engine results: orders, trades, fills, released funds.

Runs inside the batch transaction; nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from django.utils import timezone

from matching.engine import Order as EngineOrder
from matching.engine import Trade as EngineTrade
from matching.engine import constants as c
from orders.models import Fill, Order, Trade
from riskadmin.models import Symbol
from settlement import services as balances

FEE_QUANTUM = Decimal("1e-8")
ORDER_FIELDS = [
    "status",
    "filled_quantity",
    "executed_quote",
    "cancel_reason",
    "reject_reason",
    "sequence",
    "triggered",
    "updated_at",
]


@dataclass
class BatchOutcome:
    trade_ids: list[int] = field(default_factory=list)
    order_ids: list[int] = field(default_factory=list)


def fee(amount: Decimal, rate: Decimal) -> Decimal:
    """Fees round down to 1e-8 so a fee never exceeds its rate."""
    return (amount * rate).quantize(FEE_QUANTUM, rounding=ROUND_DOWN)


def write_orders(symbol: Symbol, orders: list[EngineOrder]) -> None:
    """Store the engine's view of each changed order and release what the
    finished ones no longer need."""
    if not orders:
        return
    scale = symbol.scale
    now = timezone.now()
    rows = [
        Order(
            id=o.id,
            status=o.status,
            filled_quantity=scale.quantity(o.filled),
            executed_quote=scale.quote(o.spent),
            cancel_reason=o.cancel_reason,
            reject_reason=o.reject_reason,
            sequence=o.seq,
            triggered=o.triggered,
            updated_at=now,
        )
        for o in orders
    ]
    Order.objects.bulk_update(rows, ORDER_FIELDS, batch_size=500)
    final = {o.id: o for o in orders if o.status in c.FINAL_STATUSES}
    if final:
        release_unused_funds(scale, final)


def release_unused_funds(scale, final: dict[int, EngineOrder]) -> None:
    releases = []
    locks = Order.objects.filter(id__in=final).values_list("id", "user_id", "side", "locked_asset", "locked_amount")
    for order_id, user_id, side, asset, locked in locks:
        engine_order = final[order_id]
        used = scale.quote(engine_order.spent) if side == c.BUY else scale.quantity(engine_order.filled)
        unused = locked - used
        if unused < 0:
            raise AssertionError(f"order {order_id} spent {used} {asset} but locked only {locked}")
        releases.append((order_id, user_id, asset, unused))
    balances.release_order_funds(releases)


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
