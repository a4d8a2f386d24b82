"""Untriggered stop orders indexed by stop price.

A buy stop fires when the last trade price rises to its stop price or above,
a sell stop when it falls to its stop price or below. Each side keeps a dict
of stop price -> {order id: order} and a heap of those prices (buys lowest
first, sells highest first), so an idle check looks at one heap entry and
firing k stops costs O(k log n). Prices whose bucket was emptied by cancels
stay in the heap and are skipped lazily; the heap is rebuilt once such stale
entries outnumber the live prices.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush

from .orders import Order


class StopBook:
    __slots__ = ("_buys", "_sells", "_buy_heap", "_sell_heap", "_by_id")

    def __init__(self) -> None:
        self._buys: dict[int, dict[int, Order]] = {}
        self._sells: dict[int, dict[int, Order]] = {}
        self._buy_heap: list[int] = []  # stop prices
        self._sell_heap: list[int] = []  # negated stop prices
        self._by_id: dict[int, Order] = {}

    def add(self, order: Order) -> None:
        stop_price = order.stop_price
        if order.is_buy:
            side, heap, key = self._buys, self._buy_heap, stop_price
        else:
            side, heap, key = self._sells, self._sell_heap, -stop_price
        bucket = side.get(stop_price)
        if bucket is None:
            bucket = side[stop_price] = {}
            heappush(heap, key)
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
            heap = self._buy_heap if order.is_buy else self._sell_heap
            if len(heap) > 2 * len(side) + 16:
                heap[:] = side if order.is_buy else [-price for price in side]
                heapify(heap)
        return order

    def get(self, order_id: int) -> Order | None:
        return self._by_id.get(order_id)

    def orders(self) -> list[Order]:
        return list(self._by_id.values())

    def pop_triggered(self, last_price: int) -> list[Order]:
        """Remove and return the stops `last_price` fires, in firing order.

        Buy stops fire lowest stop price first, sell stops highest first (the
        ones the price crossed earliest); within a price, oldest first.
        """
        fired: list[Order] = []
        heap = self._buy_heap
        if heap and heap[0] <= last_price:
            buys = self._buys
            while heap and heap[0] <= last_price:
                bucket = buys.pop(heappop(heap), None)
                if bucket is not None:  # else the price's stops were all cancelled
                    fired.extend(bucket.values())
        heap = self._sell_heap
        if heap and -heap[0] >= last_price:
            sells = self._sells
            while heap and -heap[0] >= last_price:
                bucket = sells.pop(-heappop(heap), None)
                if bucket is not None:
                    fired.extend(bucket.values())
        if fired:
            by_id = self._by_id
            for order in fired:
                del by_id[order.id]
        return fired

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, order_id: int) -> bool:
        return order_id in self._by_id
