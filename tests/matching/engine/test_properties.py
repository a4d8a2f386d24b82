"""Invariants that must hold after every command of any random command stream."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.engine import MatchingEngine, Order
from matching.engine import constants as c
from matching.engine.stops import StopBook

from .factories import copy_order, state

KINDS = ("limit", "limit", "limit", "post_only", "ioc", "fok", "market", "stop_market", "stop_limit", "cancel", "cancel")
STP_MODES = (c.CANCEL_TAKER, c.CANCEL_MAKER, c.CANCEL_BOTH, c.STP_NONE)
RESTING = (c.OPEN, c.PARTIALLY_FILLED)

command = st.tuples(
    st.sampled_from(KINDS),
    st.sampled_from((c.BUY, c.SELL)),
    st.integers(1, 10),  # quantity
    st.integers(95, 105),  # price (or stop price)
    st.integers(-3, 3),  # stop-limit price offset from its stop price
    st.integers(1, 3),  # user
    st.sampled_from(STP_MODES),
    st.one_of(st.none(), st.integers(0, 1500)),  # market buy budget
    st.integers(0, 1000),  # which earlier order a cancel targets
)
streams = st.lists(command, max_size=80)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def build(order_id: int, cmd: tuple) -> Order | None:
    kind, side, qty, price, offset, user, stp, budget, _ = cmd
    common = dict(stp=stp)
    if kind == "limit":
        return Order(order_id, user, side, qty, price, **common)
    if kind == "post_only":
        return Order(order_id, user, side, qty, price, post_only=True, **common)
    if kind == "ioc":
        return Order(order_id, user, side, qty, price, time_in_force=c.IOC, **common)
    if kind == "fok":
        return Order(order_id, user, side, qty, price, time_in_force=c.FOK, **common)
    budget = budget if side == c.BUY else None
    if kind == "market":
        return Order(order_id, user, side, qty, type=c.MARKET, quote_budget=budget, **common)
    if kind == "stop_market":
        return Order(order_id, user, side, qty, type=c.STOP_MARKET, stop_price=price, quote_budget=budget, **common)
    if kind == "stop_limit":
        return Order(order_id, user, side, qty, price + offset, type=c.STOP_LIMIT, stop_price=price, **common)
    return None


def apply(engine: MatchingEngine, orders: dict[int, Order], index: int, cmd: tuple) -> None:
    order = build(index + 1, cmd)
    if order is None:
        target = cmd[-1] % (index + 2)  # an earlier order, or an id that never existed
        engine.cancel(target)
    else:
        orders[order.id] = order
        engine.place(order)


def check_book(engine: MatchingEngine) -> None:
    bids, asks = engine.bids.levels, engine.asks.levels
    best_bid = max(bids) if bids else None
    best_ask = min(asks) if asks else None
    assert engine.best_bid() == best_bid and engine.best_ask() == best_ask
    if bids and asks:
        assert best_bid < best_ask, "crossed book"
    on_book = set()
    for side, book in ((c.BUY, engine.bids), (c.SELL, engine.asks)):
        for price, level in book.levels.items():
            live = list(level.live_orders())
            assert live, "empty level kept"
            assert level.count == len(live)
            assert level.quantity == sum(o.remaining for o in live)
            for order in live:
                assert order.price == price and order.side == side
                assert engine.resting[order.id] is order
                on_book.add(order.id)
    assert on_book == set(engine.resting)


def check_orders(engine: MatchingEngine, orders: dict[int, Order]) -> None:
    for order in orders.values():
        assert 0 <= order.filled <= order.quantity
        assert order.filled + order.remaining == order.quantity
        assert order.status != c.PENDING
        if order.status == c.FILLED:
            assert order.remaining == 0
        if order.status in RESTING:
            assert order.remaining > 0 and engine.resting.get(order.id) is order
        else:
            assert order.id not in engine.resting
        assert (order.status == c.UNTRIGGERED) == (order.id in engine.stops)
        if order.quote_budget is not None and order.side == c.BUY and order.price is None:
            assert order.spent <= order.quote_budget


def check_trades(trades: list, orders: dict[int, Order]) -> None:
    filled, spent = defaultdict(int), defaultdict(int)
    for trade in trades:
        maker, taker = orders[trade.maker_order_id], orders[trade.taker_order_id]
        assert trade.quantity > 0
        assert trade.price == maker.price
        assert maker.side != taker.side and trade.taker_side == taker.side
        if taker.price is not None:
            assert trade.price <= taker.price if taker.side == c.BUY else trade.price >= taker.price
        if maker.user_id == taker.user_id:
            assert taker.stp == c.STP_NONE
        for order_id in (maker.id, taker.id):
            filled[order_id] += trade.quantity
            spent[order_id] += trade.quantity * trade.price
    for order in orders.values():
        assert (order.filled, order.spent) == (filled[order.id], spent[order.id])
    assert [t.seq for t in trades] == list(range(1, len(trades) + 1))


def run(stream: list, check: bool) -> tuple[list, dict]:
    engine = MatchingEngine()
    orders: dict[int, Order] = {}
    trades = []
    for index, cmd in enumerate(stream):
        apply(engine, orders, index, cmd)
        if check:
            check_book(engine)
            check_orders(engine, orders)
            trades += engine.drain()[0]
    if not check:
        trades = engine.drain()[0]
    return trades, orders


@SETTINGS
@given(streams)
def test_invariants_hold_after_every_command(stream):
    trades, orders = run(stream, check=True)
    check_trades(trades, orders)


@SETTINGS
@given(streams)
def test_replaying_a_stream_gives_identical_trades_and_states(stream):
    trades_a, orders_a = run(stream, check=False)
    trades_b, orders_b = run(stream, check=False)
    assert [t.as_tuple() for t in trades_a] == [t.as_tuple() for t in trades_b]
    assert {i: state(o) for i, o in orders_a.items()} == {i: state(o) for i, o in orders_b.items()}


@SETTINGS
@given(streams, st.integers(1, 10))
def test_draining_in_batches_does_not_change_the_outcome(stream, batch):
    """The matcher drains once per batch; how often must not matter."""
    whole, _ = run(stream, check=False)
    engine = MatchingEngine()
    orders: dict[int, Order] = {}
    trades, touched_ids = [], set()
    for index, cmd in enumerate(stream):
        apply(engine, orders, index, cmd)
        if index % batch == batch - 1:
            batch_trades, touched = engine.drain()
            trades += batch_trades
            assert len({o.id for o in touched}) == len(touched)
            touched_ids |= {o.id for o in touched}
    batch_trades, touched = engine.drain()
    trades += batch_trades
    touched_ids |= {o.id for o in touched}
    assert [t.as_tuple() for t in trades] == [t.as_tuple() for t in whole]
    assert touched_ids == set(orders)


def restored_copy(engine: MatchingEngine) -> tuple[MatchingEngine, dict[int, Order]]:
    """A fresh engine rebuilt from `engine` the way the matcher loads a book."""
    stored = sorted(list(engine.resting.values()) + engine.stops.orders(), key=lambda o: o.seq)
    fresh = MatchingEngine()
    copies = {}
    for order in stored:
        copy = copy_order(order)
        copies[copy.id] = copy
        fresh.restore(copy)
    fresh.last_price = engine.last_price
    fresh.trade_seq = engine.trade_seq
    fresh.order_seq = engine.order_seq
    fresh.sequence = engine.sequence
    return fresh, copies


@SETTINGS
@given(streams, streams)
def test_a_restored_book_continues_exactly_like_the_original(first, second):
    engine = MatchingEngine()
    orders: dict[int, Order] = {}
    for index, cmd in enumerate(first):
        apply(engine, orders, index, cmd)
    engine.drain()
    restored, restored_orders = restored_copy(engine)
    assert restored.depth(1000) == engine.depth(1000)
    for index, cmd in enumerate(second, start=len(first)):
        apply(engine, orders, index, cmd)
        apply(restored, restored_orders, index, cmd)
    trades_a, trades_b = engine.drain()[0], restored.drain()[0]
    assert [t.as_tuple() for t in trades_a] == [t.as_tuple() for t in trades_b]
    for order_id, order in restored_orders.items():
        assert state(order) == state(orders[order_id])
    assert restored.depth(1000) == engine.depth(1000)
    assert (restored.last_price, restored.trade_seq, restored.order_seq) == (
        engine.last_price,
        engine.trade_seq,
        engine.order_seq,
    )


stop_commands = st.lists(
    st.tuples(st.sampled_from(("add", "add", "remove", "pop")), st.booleans(), st.integers(90, 110), st.integers(0, 200)),
    max_size=120,
)


@SETTINGS
@given(stop_commands)
def test_stop_book_fires_like_a_sorted_scan(commands):
    """StopBook against a plain model: every stop in the book, oldest first."""
    book = StopBook()
    model: dict[int, Order] = {}  # insertion order = age within a price
    for step, (kind, is_buy, price, pick) in enumerate(commands):
        if kind == "add":
            order = Order(step, 1, c.BUY if is_buy else c.SELL, 1, type=c.STOP_MARKET, stop_price=price)
            book.add(order)
            model[order.id] = order
        elif kind == "remove":
            order_id = pick % (step + 1)
            assert book.remove(order_id) is model.pop(order_id, None)
        else:
            buys = sorted((o for o in model.values() if o.side == c.BUY and o.stop_price <= price), key=lambda o: o.stop_price)
            sells = sorted((o for o in model.values() if o.side == c.SELL and o.stop_price >= price), key=lambda o: -o.stop_price)
            expected = buys + sells  # sorted() is stable: oldest first within a price
            assert book.pop_triggered(price) == expected
            for order in expected:
                del model[order.id]
        assert len(book) == len(model)
        assert {o.id for o in book.orders()} == set(model)
