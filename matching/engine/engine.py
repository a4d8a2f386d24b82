"""The matching engine for one symbol.

Commands go in through `place` and `cancel`; what they did accumulates in
`trades` and `touched` until the host calls `drain` (once per batch). The
engine is deterministic: the same command stream gives the same trades,
order states and sequence numbers.
"""

from __future__ import annotations

from .book import RESTING, BookSide, Level
from .constants import (
    BUY,
    CANCEL_BOTH,
    CANCEL_MAKER,
    CANCEL_TAKER,
    CANCELLED,
    CANCELLED_BY_USER,
    FILLED,
    FOK,
    FOK_NOT_FILLED,
    IOC,
    IOC_NOT_FILLED,
    MARKET_BUDGET_EXHAUSTED,
    MARKET_NOT_FILLED,
    OPEN,
    PARTIALLY_FILLED,
    POST_ONLY_WOULD_MATCH,
    REJECTED,
    SELF_TRADE_PREVENTED,
    STOP_TYPES,
    STP_NONE,
    UNTRIGGERED,
)
from .orders import Order, Trade
from .stops import StopBook


class MatchingEngine:
    def __init__(self, symbol: str = "") -> None:
        self.symbol = symbol
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)
        self.stops = StopBook()
        self.resting: dict[int, Order] = {}
        self.last_price: int | None = None
        self.order_seq = 0  # time priority of resting orders and stops
        self.trade_seq = 0
        self.sequence = 0  # one per applied command; the book's version
        self.trades: list[Trade] = []
        self.touched: dict[int, Order] = {}
        # The last price at which the stop book was last seen to hold nothing
        # that fires; None once a stop has been added since. Only a new stop or
        # a new last price can make a stop fire, so otherwise the check after
        # each placement is skipped. (Add stops through place/restore only.)
        self._stops_checked_at: int | None = None

    # -- commands ---------------------------------------------------------

    def place(self, order: Order) -> None:
        """Match a new order, rest what may rest, then fire any stops."""
        self.sequence += 1
        self.touched[order.id] = order
        if order.type in STOP_TYPES and not order.triggered:
            if not self._stop_fires(order):
                order.status = UNTRIGGERED
                self.order_seq += 1
                order.seq = self.order_seq
                self.stops.add(order)
                self._stops_checked_at = None
                return
            order.triggered = True
        self._execute(order)
        if self.stops._by_id and self.last_price != self._stops_checked_at:
            self._fire_stops()

    def reject(self, order: Order, reason: str) -> None:
        """Refuse a new order before it reaches the book (the shell found it
        could not be funded); it is handed over like any changed order."""
        order.status = REJECTED
        order.reject_reason = reason
        self.touched[order.id] = order

    def cancel(self, order_id: int, reason: str = CANCELLED_BY_USER) -> bool:
        """Cancel a resting order or an untriggered stop.

        Returns False when the engine holds no such live order (already
        filled, cancelled or never accepted); the book is unchanged then
        (the command still counts in `sequence`).
        """
        self.sequence += 1
        order = self.resting.pop(order_id, None)
        if order is not None:
            order.status = CANCELLED
            order.cancel_reason = reason
            (self.bids if order.side == BUY else self.asks).remove(order)
            self.touched[order_id] = order
            return True
        order = self.stops.remove(order_id)
        if order is None:
            return False
        order.status = CANCELLED
        order.cancel_reason = reason
        self.touched[order.id] = order
        return True

    def amend(self, order_id: int, *, quantity: int, price: int | None, stop_price: int | None) -> Order | None:
        """Change a live order's total quantity, price or stop price.

        Only a lower quantity (price and stop unchanged) keeps the order's
        time priority: it is reduced in place. Anything else is a
        cancel-replace within this one command: the old version leaves the
        book and the new one, with the same id, is placed as if new (at the
        back of its level; it trades as a taker if it now crosses, under its
        self-trade prevention; a stop that now fires is triggered). A
        post-only order that would cross is refused instead.

        Returns the order now live under the id (a new object after a
        cancel-replace, or a final one if it traded away at once), or None
        when nothing changed: no such live order, or `quantity` not above
        what it already filled (the command still counts in `sequence`).
        """
        order = self.get(order_id)
        if order is None or quantity <= order.filled:
            self.sequence += 1
            return None
        if price == order.price and stop_price == order.stop_price and quantity <= order.quantity:
            self.sequence += 1
            self._reduce(order, quantity)
            return order
        if order.post_only and self._would_take(order.side, price):
            self.sequence += 1
            return None
        self._remove_live(order)
        replacement = self._replacement(order, quantity=quantity, price=price, stop_price=stop_price)
        self.place(replacement)
        return replacement

    def restore(self, order: Order) -> None:
        """Put back a resting order or untriggered stop read from storage.

        Call in ascending `seq`; no matching happens.
        """
        if order.status == UNTRIGGERED:
            self.stops.add(order)
            self._stops_checked_at = None
        elif order.status in RESTING:
            (self.bids if order.side == BUY else self.asks).add(order)
            self.resting[order.id] = order
        else:
            raise ValueError(f"order {order.id} with status {order.status} cannot rest")
        if order.seq > self.order_seq:
            self.order_seq = order.seq

    def drain(self) -> tuple[list[Trade], list[Order]]:
        """Hand over the trades and changed orders since the last drain."""
        trades, touched = self.trades, list(self.touched.values())
        self.trades = []
        self.touched = {}
        return trades, touched

    # -- queries ----------------------------------------------------------

    def best_bid(self) -> int | None:
        return self.bids.best_price()

    def best_ask(self) -> int | None:
        return self.asks.best_price()

    def depth(self, limit: int = 50) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return self.bids.depth(limit), self.asks.depth(limit)

    def get(self, order_id: int) -> Order | None:
        return self.resting.get(order_id) or self.stops.get(order_id)

    # -- internals --------------------------------------------------------

    def _stop_fires(self, order: Order) -> bool:
        last = self.last_price
        if last is None:
            return False
        return last >= order.stop_price if order.side == BUY else last <= order.stop_price

    def _execute(self, order: Order) -> None:
        """Match an order (a new one or a fired stop) and give it its state."""
        is_buy = order.side == BUY
        opposite = self.asks if is_buy else self.bids
        price = order.price
        # The best opposite level; the top of the heap is live almost always,
        # so peek at it before paying for BookSide.best().
        heap = opposite._heap
        best = opposite.levels.get(heap[0] * opposite._sign) if heap else None
        if best is None and heap:
            best = opposite.best()
        # An order that does not reach the best opposite level cannot trade:
        # matching is skipped.
        crosses = best is not None and (price is None or (best.price <= price if is_buy else best.price >= price))
        if crosses and order.post_only and price is not None:
            order.status = REJECTED
            order.reject_reason = POST_ONLY_WOULD_MATCH
            return
        time_in_force = order.time_in_force
        if time_in_force == FOK and not self._can_fill(order, opposite):
            order.status = CANCELLED
            order.cancel_reason = FOK_NOT_FILLED
            return
        if crosses:
            self._match(order, opposite, best)
        # The taker's state after matching: filled, cancelled or resting.
        filled = order.filled
        if filled == order.quantity:
            order.status = FILLED
        elif order.cancel_reason:
            order.status = CANCELLED
        elif price is None:
            order.status = CANCELLED
            order.cancel_reason = MARKET_NOT_FILLED
        elif time_in_force == IOC or time_in_force == FOK:
            order.status = CANCELLED
            order.cancel_reason = IOC_NOT_FILLED if time_in_force == IOC else FOK_NOT_FILLED
        else:
            order.status = PARTIALLY_FILLED if filled else OPEN
            self.order_seq += 1
            order.seq = self.order_seq
            self.resting[order.id] = order
            book = self.bids if is_buy else self.asks
            level = book.levels.get(price)
            if level is None:
                book.add(order)
            else:  # BookSide.add, inlined for the common case of an existing level
                level.orders.append(order)
                level.quantity += order.quantity - filled
                level.count += 1

    def _match(self, taker: Order, book: BookSide, level: Level | None) -> None:
        """Fill `taker` against `book`, starting at its best level `level`.

        Walks levels best first and each level's queue oldest first, until
        the taker is filled, its limit price or budget is reached, the book
        side is empty, or self-trade prevention stops it. The best level is
        looked up again only when the current one may have changed.
        """
        is_buy = taker.side == BUY
        limit = taker.price
        budget = taker.quote_budget if is_buy else None
        stp = taker.stp
        user_id = taker.user_id
        trades = self.trades
        touched = self.touched
        resting = self.resting
        levels = book.levels
        want = taker.quantity - taker.filled
        trade_seq = self.trade_seq
        if level is not None:
            price = level.price
            queue = level.orders
        while want > 0:
            if level is None:
                level = book.best()
                if level is None:
                    break
                price = level.price
                if limit is not None and (price > limit if is_buy else price < limit):
                    break
                queue = level.orders
            maker = queue[0]
            if maker.status not in RESTING:  # cancelled while queued
                queue.popleft()
                continue
            if maker.user_id == user_id and stp != STP_NONE:
                if stp == CANCEL_TAKER:
                    taker.cancel_reason = SELF_TRADE_PREVENTED
                    break
                self._cancel_resting(maker, SELF_TRADE_PREVENTED)
                if stp == CANCEL_BOTH:
                    taker.cancel_reason = SELF_TRADE_PREVENTED
                    break
                level = None  # the cancel may have deleted or compacted it
                continue
            qty = maker.quantity - maker.filled
            if qty > want:
                qty = want
            if budget is not None:
                affordable = (budget - taker.spent) // price
                if affordable < qty:
                    if affordable <= 0:
                        taker.cancel_reason = MARKET_BUDGET_EXHAUSTED
                        break
                    qty = affordable
            notional = qty * price
            maker.filled += qty
            maker.spent += notional
            taker.filled += qty
            taker.spent += notional
            want -= qty
            level.quantity -= qty
            trade_seq += 1
            trades.append(Trade(trade_seq, price, qty, maker, taker))
            touched[maker.id] = maker
            if maker.filled == maker.quantity:
                maker.status = FILLED
                queue.popleft()
                del resting[maker.id]
                level.count -= 1
                if level.count == 0:
                    del levels[price]
                    level = None
            else:
                maker.status = PARTIALLY_FILLED
        if trade_seq != self.trade_seq:
            self.trade_seq = trade_seq
            self.last_price = trades[-1].price

    def _can_fill(self, taker: Order, book: BookSide) -> bool:
        """Whether matching now would fill the whole order (FOK pre-check)."""
        is_buy = taker.side == BUY
        limit = taker.price
        want = taker.quantity - taker.filled
        budget_left = taker.quote_budget - taker.spent if is_buy and taker.quote_budget is not None else None
        prices = book.prices_in_priority()
        for price in prices:
            if limit is not None and (price > limit if is_buy else price < limit):
                return False
            for maker in book.levels[price].live_orders():
                if maker.user_id == taker.user_id and taker.stp != STP_NONE:
                    if taker.stp == CANCEL_MAKER:
                        continue
                    return False
                qty = min(want, maker.quantity - maker.filled)
                if budget_left is not None:
                    qty = min(qty, budget_left // price)
                    if qty <= 0:
                        return False
                    budget_left -= qty * price
                want -= qty
                if want == 0:
                    return True
        return False

    def _reduce(self, order: Order, quantity: int) -> None:
        """Lower a live order's total quantity where it stands."""
        if order.id in self.resting:
            book = self.bids if order.side == BUY else self.asks
            book.levels[order.price].quantity -= order.quantity - quantity
        order.quantity = quantity
        self.touched[order.id] = order

    def _would_take(self, side: str, price: int | None) -> bool:
        best = self.best_ask() if side == BUY else self.best_bid()
        return best is not None and price is not None and (best <= price if side == BUY else best >= price)

    def _remove_live(self, order: Order) -> None:
        """Take a live order out of the book or the stop book; the object is
        retired (CANCELLED) so its stale queue entry is skipped."""
        if self.resting.pop(order.id, None) is not None:
            order.status = CANCELLED
            (self.bids if order.side == BUY else self.asks).remove(order)
        else:
            self.stops.remove(order.id)
            order.status = CANCELLED

    @staticmethod
    def _replacement(order: Order, *, quantity: int, price: int | None, stop_price: int | None) -> Order:
        """The amended version of an order: same id, fills and trigger state."""
        return Order(
            order.id,
            order.user_id,
            order.side,
            quantity,
            price,
            type=order.type,
            time_in_force=order.time_in_force,
            stop_price=stop_price,
            quote_budget=order.quote_budget,
            post_only=order.post_only,
            stp=order.stp,
            filled=order.filled,
            spent=order.spent,
            triggered=order.triggered,
        )

    def _cancel_resting(self, order: Order, reason: str) -> None:
        order.status = CANCELLED
        order.cancel_reason = reason
        del self.resting[order.id]
        (self.bids if order.side == BUY else self.asks).remove(order)
        self.touched[order.id] = order

    def _fire_stops(self) -> None:
        """Run every stop the last price fires, including cascades."""
        while self.last_price is not None:
            fired = self.stops.pop_triggered(self.last_price)
            if not fired:
                self._stops_checked_at = self.last_price
                return
            for order in fired:
                order.triggered = True
                self.touched[order.id] = order
                self._execute(order)
