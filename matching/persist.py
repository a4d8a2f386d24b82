"""Writing one batch of engine results: orders, trades, fills, released funds,
each symbol's last price and matcher state.

Runs inside the batch transaction; nothing here commits. Every write is one
statement over arrays (`unnest`) for all the symbols of the batch, so a
batch costs the same number of statements whether it made one trade or
thousands. The arrays travel as literal text (core.sql_arrays).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from django.db import connection
from django.utils import timezone

from core import sql_arrays as arrays
from matching.engine import MatchingEngine
from matching.engine import Order as EngineOrder
from matching.engine import Trade as EngineTrade
from matching.engine import constants as c
from matching.engine.scale import SymbolScale
from orders.models import Fill, Trade
from orders.models import Order as OrderRow
from riskadmin.models import Symbol, UserLimit
from settlement import balances

from .models import MatcherState

FEE_QUANTUM = Decimal("1e-8")
# bulk_update's CASE per column costs more to build than the write itself;
# this returns what releasing funds needs. Amounts travel as the engine's
# integers with each row's steps (lot, tick, notional unit) and PostgreSQL
# scales them: the same exact numerics, without building and printing five
# Decimals per order in the matcher.
# The rows are locked in id order first, as a request cancelling several
# orders locks them: two transactions locking overlapping rows in different
# orders could deadlock.
UPDATE_ORDERS = """
WITH locked AS (SELECT id FROM orders_order WHERE id = ANY(%s::bigint[]) ORDER BY id FOR NO KEY UPDATE)
UPDATE orders_order AS o
SET status = v.status, filled_quantity = v.filled * v.lot, executed_quote = v.spent * v.unit,
    cancel_reason = v.cancel_reason, reject_reason = v.reject_reason, sequence = v.sequence,
    triggered = v.triggered, quantity = v.quantity * v.lot, price = v.price * v.tick,
    stop_price = v.stop_price * v.tick, updated_at = %s
FROM unnest(%s::bigint[], %s::varchar[], %s::bigint[], %s::bigint[], %s::varchar[], %s::varchar[],
            %s::bigint[], %s::boolean[], %s::bigint[], %s::bigint[], %s::bigint[],
            %s::numeric[], %s::numeric[], %s::numeric[])
     AS v(id, status, filled, spent, cancel_reason, reject_reason, sequence, triggered,
          quantity, price, stop_price, lot, tick, unit)
WHERE o.id = v.id AND o.id IN (SELECT id FROM locked)
RETURNING o.id, o.user_id, o.side, o.locked_asset, o.locked_amount, v.status
"""
# Trades and both fills of each in one statement: the fills are derived from
# the inserted trades (the buyer's fill pays its fee in the base asset, the
# seller's in the quote asset, the taker's side is TAKER), in trade order,
# buyer's first. Ids come back with (symbol, sequence), unique per trade:
# RETURNING's row order is not something to rely on.
INSERT_TRADES_AND_FILLS = f"""
WITH t AS (
    INSERT INTO {Trade._meta.db_table} (symbol_id, sequence, price, quantity, quote_quantity, taker_side,
        maker_order_id, taker_order_id, buyer_id, seller_id, buyer_fee, seller_fee, executed_at,
        settlement_status, settlement_error)
    SELECT v.*, %(now)s, %(pending)s, '' FROM unnest(
        %(symbol)s::bigint[], %(sequence)s::bigint[], %(price)s::numeric[], %(quantity)s::numeric[],
        %(quote)s::numeric[], %(taker_side)s::varchar[], %(maker_order)s::bigint[], %(taker_order)s::bigint[],
        %(buyer)s::bigint[], %(seller)s::bigint[], %(buyer_fee)s::numeric[], %(seller_fee)s::numeric[]) AS v
    RETURNING *
), fills AS (
    INSERT INTO {Fill._meta.db_table} (trade_id, order_id, user_id, symbol_id, side, liquidity, price, quantity,
        fee, fee_asset, executed_at)
    SELECT t.id,
           CASE WHEN (leg.side = t.taker_side) THEN t.taker_order_id ELSE t.maker_order_id END,
           CASE WHEN leg.side = %(buy)s THEN t.buyer_id ELSE t.seller_id END,
           t.symbol_id, leg.side,
           CASE WHEN (leg.side = t.taker_side) THEN %(taker)s ELSE %(maker)s END,
           t.price, t.quantity,
           CASE WHEN leg.side = %(buy)s THEN t.buyer_fee ELSE t.seller_fee END,
           CASE WHEN leg.side = %(buy)s THEN a.base_asset ELSE a.quote_asset END,
           t.executed_at
    FROM t JOIN unnest(%(asset_symbols)s::bigint[], %(base_assets)s::varchar[], %(quote_assets)s::varchar[])
             AS a(symbol_id, base_asset, quote_asset) ON a.symbol_id = t.symbol_id
    CROSS JOIN (VALUES (1, %(buy)s), (2, %(sell)s)) AS leg(n, side)
    ORDER BY t.symbol_id, t.sequence, leg.n
)
SELECT id, symbol_id, sequence FROM t
"""
UPDATE_LAST_PRICES = f"""
UPDATE {Symbol._meta.db_table} AS s SET last_price = v.last_price
FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, last_price) WHERE s.id = v.id
"""
UPDATE_STATES = f"""
UPDATE {MatcherState._meta.db_table} AS m
SET book_sequence = v.book_sequence, trade_sequence = v.trade_sequence, order_sequence = v.order_sequence,
    heartbeat_at = %s, owner = %s
FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[])
     AS v(symbol_id, book_sequence, trade_sequence, order_sequence)
WHERE m.symbol_id = v.symbol_id
"""


@dataclass
class BookResults:
    """What one symbol's engine produced in a batch (its drain)."""

    symbol: Symbol
    engine: MatchingEngine
    trades: list[EngineTrade]
    orders: list[EngineOrder]


@dataclass
class FeeRates:
    """Fee rates for a batch's traders: an operator's per-user override
    (UserLimit.maker_fee / taker_fee) wins over the symbol's rate."""

    overrides: dict[int, tuple[Decimal | None, Decimal | None]]

    @classmethod
    def of_users(cls, user_ids: set[int]) -> "FeeRates":
        """One query for the whole batch (none when nothing traded)."""
        if not user_ids:
            return cls({})
        rows = UserLimit.objects.filter(user_id__in=user_ids).exclude(maker_fee=None, taker_fee=None)
        return cls({user_id: (maker, taker) for user_id, maker, taker in rows.values_list("user_id", "maker_fee", "taker_fee")})

    def rate(self, symbol: Symbol, user_id: int, *, taker: bool) -> Decimal:
        maker_override, taker_override = self.overrides.get(user_id, (None, None))
        override = taker_override if taker else maker_override
        if override is not None:
            return override
        return symbol.taker_fee if taker else symbol.maker_fee


def fee(amount: Decimal, rate: Decimal) -> Decimal:
    """Fees round down to 1e-8 so a fee never exceeds its rate."""
    return (amount * rate).quantize(FEE_QUANTUM, rounding=ROUND_DOWN)


def write_batch(results: list[BookResults], *, owner: str) -> dict[int, list[int]]:
    """Store a batch's results for all its symbols; returns each symbol's
    new trade ids, in trade order."""
    write_orders(results)
    trade_ids = write_trades(results)
    write_book_states(results, owner=owner)
    return trade_ids


def write_orders(results: list[BookResults]) -> None:
    """Store the engine's view of each changed order and release what the
    finished ones no longer need."""
    by_id: dict[int, tuple[EngineOrder, SymbolScale]] = {}
    steps: list[tuple[SymbolScale, int]] = []  # each symbol's scale and number of rows, in row order
    for r in results:
        scale = r.symbol.scale
        steps.append((scale, len(r.orders)))
        for o in r.orders:
            by_id[o.id] = (o, scale)
    if not by_id:
        return
    changed = [o for r in results for o in r.orders]
    ids = arrays.ints(o.id for o in changed)
    with connection.cursor() as cursor:
        cursor.execute(UPDATE_ORDERS, [
            ids,
            timezone.now(),
            ids,
            arrays.texts(o.status for o in changed),
            arrays.ints(o.filled for o in changed),
            arrays.ints(o.spent for o in changed),
            arrays.texts(o.cancel_reason for o in changed),
            arrays.texts(o.reject_reason for o in changed),
            arrays.ints(o.seq for o in changed),
            arrays.bools(o.triggered for o in changed),
            # an amend changes these three
            arrays.ints(o.quantity for o in changed),
            arrays.ints(o.price for o in changed),
            arrays.ints(o.stop_price for o in changed),
            arrays.decimal_runs((scale.step_size, n) for scale, n in steps),
            arrays.decimal_runs((scale.tick_size, n) for scale, n in steps),
            arrays.decimal_runs((scale.unit, n) for scale, n in steps),
        ])
        written = cursor.fetchall()
    if len(written) != len(by_id):
        raise AssertionError(f"{len(by_id)} orders changed in the engine, {len(written)} found to store")
    locks = [row[:5] for row in written if row[5] in c.FINAL_STATUSES]
    if locks:
        release_unused_funds(locks, by_id)


def release_unused_funds(locks: list[tuple], orders: dict[int, tuple[EngineOrder, object]]) -> None:
    """locks: (order id, user id, side, locked asset, locked amount) of
    orders that reached a final state; orders: engine order and scale by id."""
    releases = []
    for order_id, user_id, side, asset, locked in sorted(locks):
        engine_order, scale = orders[order_id]
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


GROW_LOCKS = f"""
UPDATE {OrderRow._meta.db_table} AS o SET locked_amount = o.locked_amount + v.amount
FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, amount) WHERE o.id = v.id
"""


def fund_borrowed(borrowing: list[tuple[int, int, str, Decimal]]) -> set[int]:
    """Lock what orders borrowed from their batch's cancels, in the order
    given: (order id, user id, asset, amount) each. Returns the ids funded;
    the others found too little available and are to be rejected. Four
    statements however many orders."""
    available = balances.available_many_for_update((user_id, asset) for _, user_id, asset, _ in borrowing)
    funded = []
    for order_id, user_id, asset, amount in borrowing:
        if available.get((user_id, asset), 0) >= amount:
            available[(user_id, asset)] -= amount
            funded.append((order_id, user_id, asset, amount))
    if funded:
        balances.lock_many(funded, leg="borrowed-lock")
        with connection.cursor() as cursor:
            cursor.execute(GROW_LOCKS, [[f[0] for f in funded], [f[3] for f in funded]])
    return {f[0] for f in funded}


def write_trades(results: list[BookResults]) -> dict[int, list[int]]:
    """Insert trades and both fills of each (one statement); returns each
    symbol's new trade ids in trade order."""
    trades: tuple[list, ...] = tuple([] for _ in range(12))
    rates = FeeRates.of_users({u for r in results for t in r.trades for u in (t.taker_user_id, t.maker_user_id)})
    for r in results:
        symbol, scale = r.symbol, r.symbol.scale
        for t in r.trades:
            price, quantity = scale.price(t.price), scale.quantity(t.quantity)
            quote = scale.quote(t.price * t.quantity)
            taker_buys = t.taker_side == c.BUY
            buyer_id = t.taker_user_id if taker_buys else t.maker_user_id
            seller_id = t.maker_user_id if taker_buys else t.taker_user_id
            buyer_fee = fee(quantity, rates.rate(symbol, buyer_id, taker=taker_buys))
            seller_fee = fee(quote, rates.rate(symbol, seller_id, taker=not taker_buys))
            for column, value in zip(trades, (
                symbol.id, t.seq, price, quantity, quote, t.taker_side, t.maker_order_id, t.taker_order_id,
                buyer_id, seller_id, buyer_fee, seller_fee,
            )):
                column.append(value)
    if not trades[0]:
        return {}
    symbol_ids, sequences, prices, quantities, quotes, taker_sides, makers, takers, buyers, sellers, buyer_fees, seller_fees = trades
    traded = [r.symbol for r in results if r.trades]
    with connection.cursor() as cursor:
        cursor.execute(INSERT_TRADES_AND_FILLS, {
            "now": timezone.now(), "pending": Trade.Settlement.PENDING,
            "symbol": arrays.ints(symbol_ids), "sequence": arrays.ints(sequences),
            "price": arrays.decimals(prices), "quantity": arrays.decimals(quantities), "quote": arrays.decimals(quotes),
            "taker_side": arrays.texts(taker_sides), "maker_order": arrays.ints(makers), "taker_order": arrays.ints(takers),
            "buyer": arrays.ints(buyers), "seller": arrays.ints(sellers),
            "buyer_fee": arrays.decimals(buyer_fees), "seller_fee": arrays.decimals(seller_fees),
            "asset_symbols": arrays.ints(s.id for s in traded),
            "base_assets": arrays.texts(s.base_asset for s in traded),
            "quote_assets": arrays.texts(s.quote_asset for s in traded),
            "buy": c.BUY, "sell": c.SELL, "taker": Fill.Liquidity.TAKER, "maker": Fill.Liquidity.MAKER,
        })
        ids = {(symbol_id, sequence): trade_id for trade_id, symbol_id, sequence in cursor.fetchall()}
    if len(ids) != len(symbol_ids):
        raise AssertionError(f"{len(symbol_ids)} trades made, {len(ids)} stored")
    trade_ids: dict[int, list[int]] = {}
    for symbol_id, sequence in zip(symbol_ids, sequences):
        trade_ids.setdefault(symbol_id, []).append(ids[(symbol_id, sequence)])
    return trade_ids


def write_book_states(results: list[BookResults], *, owner: str) -> None:
    """Each symbol's last price (where it traded) and matcher state."""
    priced = [r for r in results if r.trades and r.engine.last_price is not None]
    with connection.cursor() as cursor:
        if priced:
            for r in priced:
                r.symbol.last_price = r.symbol.scale.price(r.engine.last_price)
            cursor.execute(UPDATE_LAST_PRICES, [
                arrays.ints(r.symbol.id for r in priced), arrays.decimals(r.symbol.last_price for r in priced),
            ])
        cursor.execute(UPDATE_STATES, [
            timezone.now(), owner,
            arrays.ints(r.symbol.id for r in results),
            arrays.ints(r.engine.sequence for r in results),
            arrays.ints(r.engine.trade_seq for r in results),
            arrays.ints(r.engine.order_seq for r in results),
        ])
