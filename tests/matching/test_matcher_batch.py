"""matching.host.Matcher over the real database: journalled commands in,
order states, trades, fills, settled balances and released locks out."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from matching.host import Matcher
from matching.models import EngineCommand
from orders.models import Fill, Order, Trade
from settlement.models import Balance
from tests.factories import make_symbol, place
from tests.support.matcher import process
from tests.support.state import balance, fee_account, snapshot

D = Decimal


def reload(*orders: Order) -> None:
    for order in orders:
        order.refresh_from_db()


def total(asset: str) -> Decimal:
    sums = Balance.objects.filter(asset=asset).aggregate(available=Sum("available"), locked=Sum("locked"))
    return sums["available"] + sums["locked"]


def book_state(matcher: Matcher, symbol) -> dict:
    """What a book holds: levels with their queues in time priority, and stops."""
    engine = matcher.books[symbol.id].engine
    bids, asks = engine.depth(100)

    def queues(side):
        return {price: [o.id for o in level.live_orders()] for price, level in side.levels.items()}

    return {
        "depth": (bids, asks),
        "bid_queues": queues(engine.bids),
        "ask_queues": queues(engine.asks),
        "stops": sorted((o.id, o.side, o.stop_price, o.quantity, o.filled) for o in engine.stops.orders()),
        "last_price": engine.last_price,
        "trade_seq": engine.trade_seq,
    }


# -- a cross --------------------------------------------------------------------


def test_crossing_orders_fill_the_taker_and_partially_fill_the_maker(symbol, alice, bob):
    maker = place(alice, symbol, "SELL", "2", "50000.00")
    taker = place(bob, symbol, "BUY", "1.5", "50000.00")

    process(symbol)

    reload(maker, taker)
    assert (maker.status, maker.filled_quantity, maker.executed_quote) == ("PARTIALLY_FILLED", D("1.5"), D("75000"))
    assert (taker.status, taker.filled_quantity, taker.executed_quote) == ("FILLED", D("1.5"), D("75000"))


def test_a_cross_writes_one_trade_between_maker_and_taker(symbol, alice, bob):
    maker = place(alice, symbol, "SELL", "2", "50000.00")
    taker = place(bob, symbol, "BUY", "1.5", "50000.00")

    process(symbol)

    trade = Trade.objects.get()
    assert (trade.price, trade.quantity, trade.quote_quantity) == (D("50000"), D("1.5"), D("75000"))
    assert (trade.maker_order_id, trade.taker_order_id, trade.taker_side) == (maker.id, taker.id, "BUY")
    assert (trade.buyer_id, trade.seller_id) == (bob.id, alice.id)
    assert (trade.buyer_fee, trade.seller_fee) == (D("0.003"), D("75"))  # taker 0.2% of base, maker 0.1% of quote


def test_each_side_of_a_trade_gets_a_fill_with_its_liquidity_and_fee_in_the_asset_it_receives(symbol, alice, bob):
    maker = place(alice, symbol, "SELL", "2", "50000.00")
    taker = place(bob, symbol, "BUY", "1.5", "50000.00")

    process(symbol)

    trade = Trade.objects.get()
    fills = {f.order_id: f for f in Fill.objects.filter(trade=trade)}
    assert set(fills) == {maker.id, taker.id}
    buy, sell = fills[taker.id], fills[maker.id]
    assert (buy.user_id, buy.side, buy.liquidity, buy.fee, buy.fee_asset) == (bob.id, "BUY", "TAKER", D("0.003"), "BTC")
    assert (sell.user_id, sell.side, sell.liquidity, sell.fee, sell.fee_asset) == (
        alice.id, "SELL", "MAKER", D("75"), "USDT",
    )
    assert {(f.price, f.quantity) for f in fills.values()} == {(D("50000"), D("1.5"))}


def test_taker_sell_pays_the_taker_rate_in_quote_and_maker_buy_the_maker_rate_in_base(symbol, alice, bob):
    maker = place(bob, symbol, "BUY", "1", "50000.00")
    taker = place(alice, symbol, "SELL", "1", "50000.00")

    process(symbol)

    trade = Trade.objects.get()
    assert (trade.taker_side, trade.buyer_fee, trade.seller_fee) == ("SELL", D("0.001"), D("100"))
    assert Fill.objects.get(order=maker).liquidity == "MAKER"
    assert Fill.objects.get(order=taker).liquidity == "TAKER"


def test_settled_trade_moves_balances_exactly_and_pays_the_fee_account(symbol, alice, bob):
    place(alice, symbol, "SELL", "2", "50000.00")
    place(bob, symbol, "BUY", "1.5", "50000.00")

    process(symbol)  # Celery runs eagerly: the trade settles right after the batch

    assert Trade.objects.get().settlement_status == "SETTLED"
    assert balance(alice, "BTC") == (D("98"), D("0.5"))  # 0.5 still resting
    assert balance(alice, "USDT") == (D("1074925"), D("0"))  # + 75000 - 75 fee
    assert balance(bob, "USDT") == (D("925000"), D("0"))
    assert balance(bob, "BTC") == (D("101.497"), D("0"))  # + 1.5 - 0.003 fee
    fees = fee_account()
    assert balance(fees, "BTC") == (D("0.003"), D("0"))
    assert balance(fees, "USDT") == (D("75"), D("0"))
    assert (total("BTC"), total("USDT")) == (D("200"), D("2000000"))


def test_buy_filled_at_a_better_price_releases_the_unused_lock(symbol, alice, bob):
    place(alice, symbol, "SELL", "1", "49000.00")
    taker = place(bob, symbol, "BUY", "1", "50000.00")  # locks 50000

    process(symbol)

    reload(taker)
    assert (taker.status, taker.executed_quote, taker.average_price) == ("FILLED", D("49000"), D("49000"))
    assert balance(bob, "USDT") == (D("951000"), D("0"))
    assert balance(bob, "BTC") == (D("100.998"), D("0"))


# -- orders that end without resting --------------------------------------------


def test_ioc_with_no_fill_is_cancelled_and_its_lock_released_in_full(symbol, alice):
    order = place(alice, symbol, "BUY", "1", "50000.00", time_in_force="IOC")

    process(symbol)

    reload(order)
    assert (order.status, order.cancel_reason, order.filled_quantity) == ("CANCELLED", "IOC order not filled", D("0"))
    assert balance(alice, "USDT") == (D("1000000"), D("0"))


def test_ioc_partly_filled_is_cancelled_and_the_rest_of_its_lock_released(symbol, alice, bob):
    place(bob, symbol, "SELL", "0.4", "50000.00")
    order = place(alice, symbol, "BUY", "1", "50000.00", time_in_force="IOC")

    process(symbol)

    reload(order)
    assert (order.status, order.cancel_reason, order.filled_quantity) == ("CANCELLED", "IOC order not filled", D("0.4"))
    assert balance(alice, "USDT") == (D("980000"), D("0"))


def test_post_only_that_would_match_is_rejected_and_its_lock_released(symbol, alice, bob):
    place(bob, symbol, "SELL", "1", "50000.00")
    order = place(alice, symbol, "BUY", "1", "50000.00", post_only=True)

    process(symbol)

    reload(order)
    assert (order.status, order.reject_reason) == ("REJECTED", "POST_ONLY_WOULD_MATCH")
    assert not Trade.objects.exists()
    assert balance(alice, "USDT") == (D("1000000"), D("0"))


def test_post_only_that_would_not_match_rests(symbol, alice, bob):
    place(bob, symbol, "SELL", "1", "50000.00")
    order = place(alice, symbol, "BUY", "1", "49999.99", post_only=True)

    process(symbol)

    reload(order)
    assert order.status == "OPEN"
    assert balance(alice, "USDT") == (D("950000.01"), D("49999.99"))


def test_fok_that_cannot_fill_entirely_is_cancelled_without_trading(symbol, alice, bob):
    place(bob, symbol, "SELL", "0.4", "50000.00")
    order = place(alice, symbol, "BUY", "1", "50000.00", time_in_force="FOK")

    process(symbol)

    reload(order)
    assert (order.status, order.cancel_reason, order.filled_quantity) == ("CANCELLED", "FOK order not filled", D("0"))
    assert not Trade.objects.exists()
    assert balance(alice, "USDT") == (D("1000000"), D("0"))


def test_self_trade_cancels_the_taker_and_releases_its_lock(symbol, alice):
    maker = place(alice, symbol, "SELL", "1", "50000.00")
    taker = place(alice, symbol, "BUY", "1", "50000.00")

    process(symbol)

    reload(maker, taker)
    assert (taker.status, taker.cancel_reason) == ("CANCELLED", "Self-trade prevention")
    assert maker.status == "OPEN"
    assert not Trade.objects.exists()
    assert balance(alice, "USDT") == (D("1000000"), D("0"))


# -- market buys ------------------------------------------------------------------


def test_market_buy_never_spends_more_than_its_quote_order_qty(symbol, alice, bob):
    maker = place(bob, symbol, "SELL", "1", "50000.00")
    order = place(alice, symbol, "BUY", "1", quote_order_qty="10001")  # affords 0.2 at 50000

    process(symbol)

    reload(order, maker)
    assert (order.status, order.filled_quantity, order.executed_quote) == ("CANCELLED", D("0.2"), D("10000"))
    assert order.cancel_reason == "Market order reached its locked funds"
    assert (maker.status, maker.filled_quantity) == ("PARTIALLY_FILLED", D("0.2"))
    assert balance(alice, "USDT") == (D("990000"), D("0"))  # the unspent 1 is back
    assert balance(alice, "BTC") == (D("100.1996"), D("0"))


def test_market_buy_of_all_available_quote_releases_what_it_did_not_spend(symbol, alice, bob):
    place(bob, symbol, "SELL", "1", "50000.00")
    order = place(alice, symbol, "BUY", "0.5")  # locks the whole 1,000,000

    process(symbol)

    reload(order)
    assert (order.status, order.executed_quote) == ("FILLED", D("25000"))
    assert balance(alice, "USDT") == (D("975000"), D("0"))


def test_market_order_on_an_empty_book_is_cancelled_and_releases_its_lock(symbol, alice):
    order = place(alice, symbol, "SELL", "1")

    process(symbol)

    reload(order)
    assert (order.status, order.cancel_reason) == ("CANCELLED", "Market order not fully filled")
    assert balance(alice, "BTC") == (D("100"), D("0"))


# -- the command journal ----------------------------------------------------------


def test_batch_marks_its_commands_processed(symbol, alice, bob):
    first = place(alice, symbol, "SELL", "1", "50000.00")
    second = place(bob, symbol, "BUY", "1", "50000.00")

    result = process(symbol)

    commands = EngineCommand.objects.filter(order__in=[first, second]).order_by("id")
    assert result.command_ids == [c.id for c in commands]
    assert all(c.processed_at is not None for c in commands)
    assert result.trade_ids == list(Trade.objects.values_list("id", flat=True))


def test_second_batch_with_nothing_new_does_nothing(symbol, alice, bob):
    place(alice, symbol, "SELL", "1", "50000.00")
    place(bob, symbol, "BUY", "1", "50000.00")
    matcher = Matcher([symbol.id])
    matcher.process_batch()
    before = snapshot()

    result = matcher.process_batch()

    assert (len(result), result.trade_ids) == (0, [])
    assert snapshot() == before


def test_new_matcher_does_not_reapply_processed_commands(symbol, alice, bob):
    place(alice, symbol, "SELL", "1", "50000.00")
    place(bob, symbol, "BUY", "1", "50000.00")
    process(symbol)
    before = snapshot()

    result = process(symbol)

    assert len(result) == 0
    assert snapshot() == before


def test_matcher_ignores_commands_of_symbols_it_does_not_own(symbol, alice):
    other = make_symbol("ETH/USDT")
    place(alice, other, "BUY", "1", "2000.00")

    result = process(symbol)

    assert len(result) == 0
    assert EngineCommand.objects.get().processed_at is None


# -- rebuilding from the database ---------------------------------------------------


def place_mixed_book(symbol, alice, bob) -> dict[str, Order]:
    """Bids with a shared level, asks with a partly filled maker, and a stop on each side."""
    orders = {
        "bid_first": place(alice, symbol, "BUY", "1", "49000.00"),
        "bid_second": place(alice, symbol, "BUY", "0.5", "49000.00"),
        "bid_low": place(alice, symbol, "BUY", "1", "48000.00"),
        "ask_near": place(bob, symbol, "SELL", "1", "51000.00"),
        "ask_far": place(bob, symbol, "SELL", "2", "52000.00"),
        "taker": place(alice, symbol, "BUY", "0.25", "51000.00"),  # last price 51000
        "stop_buy": place(alice, symbol, "BUY", "0.5", type="STOP_MARKET", stop_price="51500.00"),
        "stop_sell": place(bob, symbol, "SELL", "1", "48000.00", type="STOP_LIMIT", stop_price="48500.00"),
    }
    return orders


def test_rebuilt_matcher_holds_the_same_book_and_stops(symbol, alice, bob):
    orders = place_mixed_book(symbol, alice, bob)
    original = Matcher([symbol.id])
    original.process_batch()

    rebuilt = Matcher([symbol.id])
    rebuilt.load()

    assert book_state(rebuilt, symbol) == book_state(original, symbol)
    state = book_state(rebuilt, symbol)
    scale = symbol.scale
    bids, asks = state["depth"]
    assert [(scale.price(p), scale.quantity(q)) for p, q in bids] == [(D("49000"), D("1.5")), (D("48000"), D("1"))]
    assert [(scale.price(p), scale.quantity(q)) for p, q in asks] == [(D("51000"), D("0.75")), (D("52000"), D("2"))]
    assert state["bid_queues"][scale.to_ticks(D("49000"))] == [orders["bid_first"].id, orders["bid_second"].id]
    assert [s[0] for s in state["stops"]] == sorted([orders["stop_buy"].id, orders["stop_sell"].id])


def test_untriggered_stop_is_stored_as_such(symbol, alice, bob):
    orders = place_mixed_book(symbol, alice, bob)

    process(symbol)

    reload(orders["stop_buy"], orders["stop_sell"])
    assert (orders["stop_buy"].status, orders["stop_buy"].triggered) == ("UNTRIGGERED", False)
    assert (orders["stop_sell"].status, orders["stop_sell"].triggered) == ("UNTRIGGERED", False)


def test_stop_restored_by_a_rebuilt_matcher_fires_on_the_next_trade(symbol, alice, bob):
    orders = place_mixed_book(symbol, alice, bob)
    process(symbol)
    rebuilt = Matcher([symbol.id])
    rebuilt.load()

    place(alice, symbol, "BUY", "1", "52000.00")  # 0.75 @ 51000 then 0.25 @ 52000: last 52000
    rebuilt.process_batch()

    stop = orders["stop_buy"]
    reload(stop, orders["stop_sell"])
    assert (stop.status, stop.triggered) == ("FILLED", True)
    assert (stop.filled_quantity, stop.executed_quote) == (D("0.5"), D("26000"))
    assert [(f.price, f.quantity, f.liquidity) for f in stop.fills.all()] == [(D("52000"), D("0.5"), "TAKER")]
    assert orders["stop_sell"].status == "UNTRIGGERED"
    sequences = list(Trade.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == [1, 2, 3, 4]


def test_fired_stop_market_buy_releases_what_its_buffer_did_not_need(symbol, alice, bob):
    place_mixed_book(symbol, alice, bob)
    process(symbol)

    place(alice, symbol, "BUY", "1", "52000.00")
    process(symbol)

    # Spent: 12750 (first taker) + 51250 (0.75 @ 51000 + 0.25 @ 52000) + 26000
    # (the stop, which locked 51500 x 0.5 x 1.05 = 27037.5). Still locked: the
    # three resting bids, 49000 + 24500 + 48000.
    assert balance(alice, "USDT") == (D("788500"), D("121500"))
