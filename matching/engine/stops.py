"""Untriggered stop orders indexed by stop price.

A buy stop fires when the last trade price rises to its stop price or above,
a sell stop when it falls to its stop price or below. Both sides are sorted
dicts of stop price -> {order id: order}, so finding what fires after a trade
is O(log n + k) for k triggered orders and an idle check is O(1).
"""

from __future__ import annotations

from sortedcontainers import SortedDict

from .orders import Order


class StopBook:
    __slots__ = ("_buys", "_sells", "_by_id")

    def __init__(self) -> None:
        self._buys: SortedDict = SortedDict()
        self._sells: SortedDict = SortedDict()
        self._by_id: dict[int, Order] = {}

    def add(self, order: Order) -> None:
        side = self._buys if order.is_buy else self._sells
        bucket = side.get(order.stop_price)
        if bucket is None:
            bucket = side[order.stop_price] = {}
        bucket[order.id] = order
        self._by_id[order.id] = order

    def remove(self, order_id: int) -> Order | None:
        order = self._by_id.pop(order_id, None)
        if order is None:
            return None
        side = self._buys if order.is_buy else self._sells
        bucket = side[order.stop_price]
        del bucket[order_id]
        if not bucket:
            del side[order.stop_price]
        return order

    def get(self, order_id: int) -> Order | None:
        return self._by_id.get(order_id)

    def pop_triggered(self, last_price: int) -> list[Order]:
        """Remove and return the stops `last_price` fires, in firing order.

        Buy stops fire lowest stop price first, sell stops highest first (the
        ones the price crossed earliest); within a price, oldest first.
        """
        fired: list[Order] = []
        buys = self._buys
        if buys and buys.peekitem(0)[0] <= last_price:
            for stop_price in list(buys.irange(maximum=last_price)):
                fired.extend(buys.pop(stop_price).values())
        sells = self._sells
        if sells and sells.peekitem(-1)[0] >= last_price:
            for stop_price in list(sells.irange(minimum=last_price, reverse=True)):
                fired.extend(sells.pop(stop_price).values())
        for order in fired:
            del self._by_id[order.id]
        return fired

    def orders(self) -> list[Order]:
        return list(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, order_id: int) -> bool:
        return order_id in self._by_id
