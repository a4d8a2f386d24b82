"""One side of an order book: price levels with FIFO queues.

Levels live in a dict keyed by price; a heap of prices finds the best one.
Emptied levels leave their price in the heap and are skipped lazily, which
keeps insert, cancel and best-price lookups O(1) or O(log n) without a sorted
container on the hot path. Cancelled orders are also dropped lazily from the
FIFO queue, with a compaction once dead entries outnumber live ones.
"""

from __future__ import annotations

from collections import deque
from heapq import heappop, heappush, nsmallest
from typing import Iterator

from .constants import OPEN, PARTIALLY_FILLED
from .orders import Order

RESTING = frozenset({OPEN, PARTIALLY_FILLED})


class Level:
    """All resting orders at one price, oldest first."""

    __slots__ = ("price", "orders", "quantity", "count")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: deque[Order] = deque()
        self.quantity = 0  # live lots resting here
        self.count = 0  # live orders resting here

    def live_orders(self) -> Iterator[Order]:
        """Resting orders in time priority (cancelled entries skipped)."""
        for order in self.orders:
            if order.status in RESTING:
                yield order


class BookSide:
    """Bids (best = highest) or asks (best = lowest)."""

    __slots__ = ("is_bid", "levels", "_heap", "_in_heap", "_sign")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[int, Level] = {}
        self._heap: list[int] = []
        self._in_heap: set[int] = set()
        self._sign = -1 if is_bid else 1

    def best(self) -> Level | None:
        """The best live level, discarding stale heap entries on the way."""
        heap = self._heap
        levels = self.levels
        sign = self._sign
        while heap:
            price = heap[0] * sign
            level = levels.get(price)
            if level is not None:
                return level
            heappop(heap)
            self._in_heap.discard(price)
        return None

    def best_price(self) -> int | None:
        level = self.best()
        return None if level is None else level.price

    def add(self, order: Order) -> None:
        price = order.price
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = Level(price)
            if price not in self._in_heap:
                self._in_heap.add(price)
                heappush(self._heap, price * self._sign)
        level.orders.append(order)
        level.quantity += order.quantity - order.filled
        level.count += 1

    def remove(self, order: Order) -> None:
        """Take a live order out of its level; its queue entry goes lazily.

        The caller must already have given the order a final status, which is
        how the matching loop recognises the stale queue entry.
        """
        level = self.levels[order.price]
        level.quantity -= order.quantity - order.filled
        level.count -= 1
        if level.count == 0:
            del self.levels[order.price]
        elif len(level.orders) > 2 * level.count + 16:
            level.orders = deque(o for o in level.orders if o.status in RESTING)

    def prices_in_priority(self) -> Iterator[int]:
        """Prices best first, read off the price heap without changing it.

        A frontier of heap nodes (a node's children are never better than
        the node) yields the entries in order at O(log k) each for the k
        visited, so a walk that stops within the top levels (the FOK
        pre-check) does not pay for the depth of the book. Stale entries
        (emptied levels) are skipped. The book must not change while the
        walk runs.
        """
        heap, sign, levels = self._heap, self._sign, self.levels
        frontier = [(heap[0], 0)] if heap else []
        while frontier:
            key, index = heappop(frontier)
            if key * sign in levels:
                yield key * sign
            for child in (2 * index + 1, 2 * index + 2):
                if child < len(heap):
                    heappush(frontier, (heap[child], child))

    def depth(self, limit: int) -> list[tuple[int, int]]:
        """Top `limit` levels as (price, lots), best first."""
        if self.is_bid:
            prices = sorted(self.levels, reverse=True)[:limit] if limit > 64 else [
                -p for p in nsmallest(limit, (-p for p in self.levels))
            ]
        else:
            prices = nsmallest(limit, self.levels)
        return [(p, self.levels[p].quantity) for p in prices]

    def __len__(self) -> int:
        return len(self.levels)
