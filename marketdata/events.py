"""What one matcher batch changed in one symbol's market.

Built by the matcher inside the batch, from plain integers and rows it
already has, so it costs little; rendered and published after commit by
`marketdata.publisher`. Nothing here does I/O except reading back the
batch's own trade rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from django.db import connection

from core import sql_arrays
from matching.engine.scale import SymbolScale
from orders.models import Trade

# One side of a book: price in ticks -> resting lots.
LevelMap = dict[int, int]

TRADE_FIELDS = (
    "id", "sequence", "price", "quantity", "quote_quantity", "taker_side", "executed_at",
    "maker_order_id", "taker_order_id", "buyer_id", "seller_id", "buyer_fee", "seller_fee",
)


@dataclass(frozen=True)
class SymbolInfo:
    id: int
    name: str
    base_asset: str
    quote_asset: str
    scale: SymbolScale

    @classmethod
    def of(cls, symbol) -> "SymbolInfo":
        return cls(symbol.id, symbol.name, symbol.base_asset, symbol.quote_asset, symbol.scale)


class OrderState(NamedTuple):
    """An engine order as it stood at the end of the batch (engine orders
    keep changing afterwards, so the batch copies what it publishes)."""

    id: int
    user_id: int
    side: str
    type: str
    status: str
    price: int | None
    quantity: int
    filled: int
    spent: int
    cancel_reason: str
    reject_reason: str


@dataclass
class BookChange:
    symbol: SymbolInfo
    first_sequence: int  # the book sequence range the batch covers
    last_sequence: int
    bids: LevelMap  # every level after the batch
    asks: LevelMap
    changed_bids: LevelMap = field(default_factory=dict)  # 0 lots: the level is gone
    changed_asks: LevelMap = field(default_factory=dict)
    trades: list[dict] = field(default_factory=list)
    orders: list[OrderState] = field(default_factory=list)
    last_price: int | None = None  # ticks
    snapshot_only: bool = False  # a rebuilt book: store the snapshot, send nothing


def capture(engine) -> tuple[LevelMap, LevelMap]:
    return (
        {price: level.quantity for price, level in engine.bids.levels.items()},
        {price: level.quantity for price, level in engine.asks.levels.items()},
    )


def diff(before: LevelMap, after: LevelMap) -> LevelMap:
    changed = {price: lots for price, lots in after.items() if before.get(price) != lots}
    changed.update({price: 0 for price in before.keys() - after.keys()})
    return changed


def book_state(symbol, engine) -> BookChange:
    """The whole book as it stands, e.g. right after a rebuild."""
    bids, asks = capture(engine)
    return BookChange(
        SymbolInfo.of(symbol), engine.sequence, engine.sequence, bids, asks,
        last_price=engine.last_price, snapshot_only=True,
    )


# The batch's trades as the matcher just wrote them: plain SQL, because a
# queryset's values() cost a backlog drain more Python per row than the
# INSERT that wrote it.
BATCH_TRADES = f"""
SELECT {", ".join(TRADE_FIELDS)} FROM {Trade._meta.db_table} WHERE id = ANY(%s::bigint[]) ORDER BY sequence
"""


def batch_trades(trade_ids: list[int]) -> list[dict]:
    """The trades' TRADE_FIELDS, in trade order."""
    with connection.cursor() as cursor:
        cursor.execute(BATCH_TRADES, [sql_arrays.ints(trade_ids)])
        return [dict(zip(TRADE_FIELDS, row)) for row in cursor.fetchall()]


def book_change(symbol, engine, *, first_sequence: int, before: BookChange | None, trade_ids: list[int], orders) -> BookChange:
    """Diff the book against the previous batch's and copy what changed."""
    bids, asks = capture(engine)
    old_bids, old_asks = (before.bids, before.asks) if before is not None else ({}, {})
    trades = batch_trades(trade_ids) if trade_ids else []
    return BookChange(
        symbol=SymbolInfo.of(symbol),
        first_sequence=first_sequence,
        last_sequence=engine.sequence,
        bids=bids,
        asks=asks,
        changed_bids=diff(old_bids, bids),
        changed_asks=diff(old_asks, asks),
        trades=trades,
        last_price=engine.last_price,
        orders=[
            OrderState(o.id, o.user_id, o.side, o.type, o.status, o.price, o.quantity, o.filled, o.spent,
                       o.cancel_reason, o.reject_reason)
            for o in orders
        ],
    )
