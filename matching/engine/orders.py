"""The engine's order and trade records (plain slotted objects, no I/O)."""

from __future__ import annotations

from .constants import BUY, CANCEL_TAKER, GTC, LIMIT, PENDING


class Order:
    """An order as the engine sees it.

    price and stop_price are in ticks, quantity and filled in lots; spent and
    quote_budget are in notional units (ticks x lots). quote_budget caps what
    a market buy may spend: it is the quote the order locked.
    """

    __slots__ = (
        "id",
        "user_id",
        "side",
        "type",
        "time_in_force",
        "price",
        "stop_price",
        "quantity",
        "filled",
        "spent",
        "quote_budget",
        "post_only",
        "stp",
        "status",
        "seq",
        "cancel_reason",
        "reject_reason",
        "triggered",
    )

    def __init__(
        self,
        id: int,
        user_id: int,
        side: str,
        quantity: int,
        price: int | None = None,
        *,
        type: str = LIMIT,
        time_in_force: str = GTC,
        stop_price: int | None = None,
        quote_budget: int | None = None,
        post_only: bool = False,
        stp: str = CANCEL_TAKER,
        filled: int = 0,
        spent: int = 0,
        status: str = PENDING,
        seq: int = 0,
        triggered: bool = False,
    ) -> None:
        self.id = id
        self.user_id = user_id
        self.side = side
        self.type = type
        self.time_in_force = time_in_force
        self.price = price
        self.stop_price = stop_price
        self.quantity = quantity
        self.filled = filled
        self.spent = spent
        self.quote_budget = quote_budget
        self.post_only = post_only
        self.stp = stp
        self.status = status
        self.seq = seq
        self.cancel_reason = ""
        self.reject_reason = ""
        self.triggered = triggered

    @property
    def remaining(self) -> int:
        return self.quantity - self.filled

    @property
    def is_buy(self) -> bool:
        return self.side == BUY

    def __repr__(self) -> str:
        return (
            f"Order(id={self.id}, {self.side} {self.type} {self.quantity}@{self.price}"
            f" filled={self.filled} status={self.status})"
        )


class Trade:
    """One fill between a resting maker and an incoming taker."""

    __slots__ = (
        "seq",
        "price",
        "quantity",
        "maker_order_id",
        "taker_order_id",
        "maker_user_id",
        "taker_user_id",
        "taker_side",
    )

    def __init__(self, seq, price, quantity, maker, taker) -> None:
        self.seq = seq
        self.price = price
        self.quantity = quantity
        self.maker_order_id = maker.id
        self.taker_order_id = taker.id
        self.maker_user_id = maker.user_id
        self.taker_user_id = taker.user_id
        self.taker_side = taker.side

    def as_tuple(self) -> tuple:
        return (
            self.seq,
            self.price,
            self.quantity,
            self.maker_order_id,
            self.taker_order_id,
            self.taker_side,
        )

    def __repr__(self) -> str:
        return f"Trade(seq={self.seq}, {self.quantity}@{self.price}, maker={self.maker_order_id}, taker={self.taker_order_id})"
