"""Property: whatever traders do, money is conserved.

Random streams of limit (GTC/IOC/FOK), market and stop orders, cancels and
amends from a few traders go through the real services and matcher. Settlement runs
either at once (eager Celery, the matcher's own hand-off) or is held back and
released trade by trade in random order. After every step the reconcile
checks must hold: per-asset conservation, balances equal to the ledger, no
negative balance, balanced postings, and locked == what live orders and
unsettled trades still hold. When everything is cancelled and settled,
nothing stays locked.
"""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from core.errors import DomainError
from matching import host
from matching.host import Matcher
from orders.models import Order, Trade
from orders.services import amend_order, cancel_order
from settlement import reconcile, tasks
from settlement.models import Balance
from tests.factories import make_symbol, make_user, place

D = Decimal
TRADERS = 3
FUNDS = {"USDT": "3000", "BTC": "30"}

trader = st.integers(0, TRADERS - 1)
side = st.sampled_from(["BUY", "SELL"])
lots = st.integers(1, 40)  # x 0.1 BTC
price = st.integers(98, 102)  # whole USDT

limit_order = st.tuples(st.just("limit"), trader, side, lots, price, st.sampled_from(["GTC", "GTC", "IOC", "FOK"]))
market_order = st.tuples(st.just("market"), trader, side, lots, st.one_of(st.none(), st.integers(50, 1500)))
stop_order = st.tuples(st.just("stop"), trader, side, lots, price)
cancel = st.tuples(st.just("cancel"), trader, st.integers(0, 30))
amend = st.tuples(st.just("amend"), trader, st.integers(0, 30), lots, price)
match = st.just(("match",))
settle_one = st.tuples(st.just("settle"), st.integers(0, 30))
step = st.one_of(limit_order, limit_order, market_order, stop_order, cancel, amend, match, match, settle_one)


def assert_reconciles(context: str) -> None:
    failed = {result.name: result.mismatches for result in reconcile.run_all() if not result.ok}
    assert not failed, f"after {context}: {failed}"


class MoneyIsConservedUnderRandomTrading(TestCase):
    @hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(steps=st.lists(step, min_size=3, max_size=16), hold_settlement=st.booleans())
    def test_every_step_reconciles_and_nothing_stays_locked_at_the_end(self, steps, hold_settlement):
        symbol = make_symbol("BTC/USDT", tick_size=D("1"), step_size=D("0.1"), min_quantity=D("0.1"), min_notional=D("1"))
        traders = [make_user(f"p{i}", funds=FUNDS) for i in range(TRADERS)]
        matcher = Matcher([symbol.id])
        held: list[int] = []
        handoff = mock.patch.object(host, "enqueue_settlement", held.extend) if hold_settlement else mock.MagicMock()

        def settle(index: int) -> None:
            # A batch of the held trades, one to all of them.
            if held:
                batch, held[:] = held[: index % len(held) + 1], held[index % len(held) + 1 :]
                tasks.settle_trades.delay(batch)

        with handoff:
            self._open_market(symbol, traders)
            matcher.process_batch()
            assert_reconciles("opening the market")
            for number, action in enumerate(steps):
                kind, args = action[0], action[1:]
                if kind == "match":
                    matcher.process_batch()
                    self._assert_book_not_crossed(matcher.books[symbol.id].engine)
                elif kind == "settle":
                    settle(*args)
                elif kind == "cancel":
                    self._cancel(traders[args[0]], args[1])
                elif kind == "amend":
                    self._amend(traders[args[0]], *args[1:])
                else:
                    self._place(symbol, traders[args[0]], kind, *args[1:])
                assert_reconciles(f"step {number} {action}")

            for user in traders:
                for order in Order.objects.filter(user=user, status__in=Order.LIVE_STATUSES):
                    cancel_order(user=user, order_id=order.id)
            matcher.process_batch()
            while held:
                settle(0)
        trades = Trade.objects.count()
        event(f"trades: {trades if trades < 4 else '4+'}")
        assert_reconciles("cancelling everything and settling every trade")
        assert not Balance.objects.exclude(locked=0).exists()

    @staticmethod
    def _open_market(symbol, traders) -> None:
        """One trade and a resting order on each side, so every stream meets liquidity."""
        place(traders[0], symbol, "SELL", "1", "100")
        place(traders[1], symbol, "BUY", "1", "100")
        place(traders[0], symbol, "SELL", "3", "101")
        place(traders[1], symbol, "BUY", "3", "99")

    @staticmethod
    def _place(symbol, user, kind: str, side: str, lots: int, *rest) -> None:
        quantity = str(D(lots) / 10)
        try:
            if kind == "limit":
                place(user, symbol, side, quantity, str(rest[0]), time_in_force=rest[1])
            elif kind == "stop":
                place(user, symbol, side, quantity, type="STOP_MARKET", stop_price=str(rest[0]))
            elif side == "BUY" and rest[0] is not None:
                place(user, symbol, side, quantity, quote_order_qty=str(rest[0]))
            else:
                place(user, symbol, side, quantity)
        except DomainError:
            pass  # refused (not enough funds, a filter): the checks prove it wrote nothing

    @staticmethod
    def _cancel(user, index: int) -> None:
        live = list(Order.objects.filter(user=user, status__in=Order.LIVE_STATUSES).order_by("id"))
        if live:
            try:
                cancel_order(user=user, order_id=live[index % len(live)].id)
            except DomainError:
                pass

    @staticmethod
    def _amend(user, index: int, lots: int, price: int) -> None:
        """A new quantity for a live order, and a new price (or stop price) on every other one."""
        live = list(Order.objects.filter(user=user, status__in=Order.LIVE_STATUSES).order_by("id"))
        if not live:
            return
        order = live[index % len(live)]
        values = {"quantity": D(lots) / 10}
        if index % 2:
            values["stop_price" if order.type == "STOP_MARKET" else "price"] = D(price)
        try:
            amend_order(user=user, order_id=order.id, **values)
            event("amend accepted")
        except DomainError:
            pass  # refused (final, not amendable, not enough funds): the checks prove it wrote nothing

    @staticmethod
    def _assert_book_not_crossed(engine) -> None:
        bid, ask = engine.best_bid(), engine.best_ask()
        assert bid is None or ask is None or bid < ask, f"crossed book: bid {bid} >= ask {ask}"
