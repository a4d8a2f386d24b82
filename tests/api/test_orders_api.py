"""The trader order API over HTTP: place, read, list, cancel, fills.

The matcher runs in-process between requests (Matcher.process_batch), so
ORDER_RESULT_TIMEOUT is 0: POST and DELETE answer 202 at once instead of
waiting for a matcher process that is not running.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from matching.host import Matcher
from matching.models import EngineCommand
from orders.models import Order
from tests.factories import make_symbol, place

ORDERS = "/api/v1/orders"
FILLS = "/api/v1/fills"
ORDER_FIELDS = {
    "id", "client_order_id", "symbol", "side", "type", "time_in_force", "post_only", "price",
    "stop_price", "quantity", "filled_quantity", "remaining_quantity", "average_price", "status",
    "reject_reason", "cancel_reason", "created_at", "updated_at", "fills",
}
FILL_FIELDS = {"trade", "price", "quantity", "fee", "fee_asset", "liquidity"}


@pytest.fixture(autouse=True)
def answer_without_waiting(settings):
    settings.ORDER_RESULT_TIMEOUT = 0


def process(symbol) -> None:
    Matcher([symbol.id]).process_batch()


def limit(side: str, quantity: str, price: str, **fields) -> dict:
    return {"symbol": "BTC/USDT", "side": side, "type": "LIMIT", "quantity": quantity, "price": price, **fields}


def post_json(client, text: str):
    """POST a JSON document exactly as written (numbers stay numbers)."""
    return client.post(ORDERS, data=text, content_type="application/json")


def error_code(response) -> str:
    return response.json()["error"]["code"]


# -- placing ---------------------------------------------------------------------


def test_place_answers_202_pending_with_every_contract_field(symbol, alice_api):
    response = alice_api.post(ORDERS, limit("BUY", "1.5", "50000", client_order_id="c-1"), format="json")

    assert response.status_code == 202
    body = response.json()
    assert ORDER_FIELDS <= set(body)
    assert {k: body[k] for k in ORDER_FIELDS - {"id", "created_at", "updated_at"}} == {
        "client_order_id": "c-1",
        "symbol": "BTC/USDT",
        "side": "BUY",
        "type": "LIMIT",
        "time_in_force": "GTC",
        "post_only": False,
        "price": "50000.00",
        "stop_price": None,
        "quantity": "1.500",
        "filled_quantity": "0.000",
        "remaining_quantity": "1.500",
        "average_price": None,
        "status": "PENDING",
        "reject_reason": "",
        "cancel_reason": "",
        "fills": [],
    }
    assert isinstance(body["id"], int)
    assert body["created_at"] and body["updated_at"]


def test_place_writes_the_order_and_its_place_command(symbol, alice, alice_api):
    order_id = alice_api.post(ORDERS, limit("BUY", "1", "50000"), format="json").json()["id"]

    order = Order.objects.get(id=order_id)
    assert (order.user_id, order.status) == (alice.id, "PENDING")
    assert EngineCommand.objects.get(order=order).kind == "PLACE"


def test_order_shows_its_final_state_and_fills_after_matching(symbol, bob, alice_api):
    place(bob, symbol, "SELL", "1", "49000.00")
    order_id = alice_api.post(ORDERS, limit("BUY", "1", "50000.00"), format="json").json()["id"]

    process(symbol)
    response = alice_api.get(f"{ORDERS}/{order_id}")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["filled_quantity"], body["remaining_quantity"]) == ("FILLED", "1.000", "0.000")
    assert Decimal(body["average_price"]) == Decimal("49000")
    [fill] = body["fills"]
    assert FILL_FIELDS <= set(fill)
    assert (fill["price"], fill["quantity"], fill["fee"], fill["fee_asset"], fill["liquidity"]) == (
        "49000.00", "1.000", "0.002", "BTC", "TAKER",
    )


def test_stop_order_shows_its_stop_price_and_waits_untriggered(symbol, alice_api):
    body = alice_api.post(
        ORDERS,
        {"symbol": "BTC/USDT", "side": "SELL", "type": "STOP_MARKET", "quantity": "1", "stop_price": "40000"},
        format="json",
    ).json()

    process(symbol)

    assert (body["price"], body["stop_price"]) == (None, "40000.00")
    assert alice_api.get(f"{ORDERS}/{body['id']}").json()["status"] == "UNTRIGGERED"


def test_repeated_client_order_id_answers_200_with_the_original_order(symbol, alice_api):
    first = alice_api.post(ORDERS, limit("BUY", "1", "50000", client_order_id="once"), format="json")

    again = alice_api.post(ORDERS, limit("BUY", "1", "50000", client_order_id="once"), format="json")

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1


def test_reused_client_order_id_with_other_parameters_is_409(symbol, alice_api):
    alice_api.post(ORDERS, limit("BUY", "1", "50000", client_order_id="once"), format="json")

    response = alice_api.post(ORDERS, limit("BUY", "2", "50000", client_order_id="once"), format="json")

    assert (response.status_code, error_code(response)) == (409, "DUPLICATE_CLIENT_ORDER_ID")


def test_json_numbers_with_fractions_are_parsed_exactly(symbol, alice_api):
    # As floats, 0.1 and 50000.01 would land off the step and off the tick.
    response = post_json(
        alice_api, '{"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": 0.1, "price": 50000.01}'
    )

    assert response.status_code == 202, response.json()
    assert (response.json()["quantity"], response.json()["price"]) == ("0.100", "50000.01")
    assert Order.objects.get().locked_amount == Decimal("5000.001")


def test_symbol_in_dash_form_is_accepted(symbol, alice_api):
    response = alice_api.post(ORDERS, {**limit("BUY", "1", "50000"), "symbol": "BTC-USDT"}, format="json")

    assert response.status_code == 202
    assert response.json()["symbol"] == "BTC/USDT"


def test_unknown_symbol_is_404(symbol, alice_api):
    response = alice_api.post(ORDERS, {**limit("BUY", "1", "50000"), "symbol": "DOGE/USDT"}, format="json")

    assert (response.status_code, error_code(response)) == (404, "UNKNOWN_SYMBOL")


def test_unparseable_quantity_is_invalid_quantity(symbol, alice_api):
    response = alice_api.post(ORDERS, limit("BUY", "lots", "50000"), format="json")

    assert (response.status_code, error_code(response)) == (400, "INVALID_QUANTITY")
    assert "quantity" in response.json()["error"]["details"]


def test_missing_quantity_is_invalid_quantity(symbol, alice_api):
    body = limit("BUY", "1", "50000")
    del body["quantity"]

    response = alice_api.post(ORDERS, body, format="json")

    assert (response.status_code, error_code(response)) == (400, "INVALID_QUANTITY")


def test_zero_quantity_is_invalid_quantity(symbol, alice_api):
    response = alice_api.post(ORDERS, limit("BUY", "0", "50000"), format="json")

    assert (response.status_code, error_code(response)) == (400, "INVALID_QUANTITY")


def test_quantity_with_more_decimals_than_stored_is_invalid_quantity(symbol, alice_api):
    response = alice_api.post(ORDERS, limit("BUY", "1.0000000000000000001", "50000"), format="json")

    assert (response.status_code, error_code(response)) == (400, "INVALID_QUANTITY")


def test_unparseable_price_is_invalid_price(symbol, alice_api):
    response = alice_api.post(ORDERS, limit("BUY", "1", "cheap"), format="json")

    assert (response.status_code, error_code(response)) == (400, "INVALID_PRICE")
    assert "price" in response.json()["error"]["details"]


def test_limit_order_without_price_is_invalid_price(symbol, alice_api):
    body = limit("BUY", "1", "50000")
    del body["price"]

    response = alice_api.post(ORDERS, body, format="json")

    assert (response.status_code, error_code(response)) == (400, "INVALID_PRICE")


def test_unknown_side_is_a_validation_error(symbol, alice_api):
    response = alice_api.post(ORDERS, limit("HOLD", "1", "50000"), format="json")

    assert (response.status_code, error_code(response)) == (400, "VALIDATION_ERROR")
    assert "side" in response.json()["error"]["details"]


def test_malformed_json_is_400(symbol, alice_api):
    response = post_json(alice_api, '{"symbol": ')

    assert (response.status_code, error_code(response)) == (400, "MALFORMED_REQUEST")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"price": "50000.001"}, "PRICE_NOT_ON_TICK"),
        ({"quantity": "1.0001"}, "QUANTITY_NOT_ON_STEP"),
        ({"quantity": "0.001", "price": "100"}, "MIN_NOTIONAL"),
        ({"quantity": "30"}, "INSUFFICIENT_BALANCE"),
        ({"post_only": True, "time_in_force": "IOC"}, "POST_ONLY_WITH_IOC_OR_FOK"),
    ],
    ids=["price-off-tick", "quantity-off-step", "below-min-notional", "not-enough-quote", "post-only-ioc"],
)
def test_refused_order_answers_400_with_its_code_and_writes_nothing(symbol, alice_api, fields, code):
    response = alice_api.post(ORDERS, {**limit("BUY", "1", "50000"), **fields}, format="json")

    assert (response.status_code, error_code(response)) == (400, code)
    assert not Order.objects.exists()
    usdt = {b["asset"]: b for b in alice_api.get("/api/v1/balances").json()}["USDT"]
    assert (usdt["available"], usdt["locked"]) == ("1000000", "0")


def test_order_on_a_halted_symbol_is_409(symbol, alice_api):
    symbol.status = symbol.Status.HALTED
    symbol.save()

    response = alice_api.post(ORDERS, limit("BUY", "1", "50000"), format="json")

    assert (response.status_code, error_code(response)) == (409, "SYMBOL_HALTED")


# -- reading and listing ---------------------------------------------------------


def test_list_shows_own_orders_newest_first(symbol, alice, bob, alice_api):
    first = place(alice, symbol, "BUY", "1", "40000.00")
    place(bob, symbol, "BUY", "1", "40000.00")
    second = place(alice, symbol, "SELL", "1", "60000.00")

    response = alice_api.get(ORDERS)

    assert response.status_code == 200
    assert [o["id"] for o in response.json()["results"]] == [second.id, first.id]


def test_list_filters_by_symbol_in_either_form(symbol, alice, alice_api):
    eth = make_symbol("ETH/USDT")
    btc_order = place(alice, symbol, "BUY", "1", "40000.00")
    place(alice, eth, "BUY", "1", "2000.00")

    for name in ("BTC/USDT", "BTC-USDT"):
        results = alice_api.get(ORDERS, {"symbol": name}).json()["results"]
        assert [o["id"] for o in results] == [btc_order.id]


def test_list_filters_by_status(symbol, alice, bob, alice_api):
    filled = place(alice, symbol, "BUY", "1", "50000.00")
    place(bob, symbol, "SELL", "1", "50000.00")
    process(symbol)
    resting = place(alice, symbol, "BUY", "1", "40000.00")
    process(symbol)

    filled_ids = [o["id"] for o in alice_api.get(ORDERS, {"status": "FILLED"}).json()["results"]]
    open_ids = [o["id"] for o in alice_api.get(ORDERS, {"status": "OPEN"}).json()["results"]]

    assert (filled_ids, open_ids) == ([filled.id], [resting.id])


def test_list_pages_with_a_cursor(symbol, alice, alice_api):
    ids = [place(alice, symbol, "BUY", "1", f"{40000 + i}.00").id for i in range(5)]

    first = alice_api.get(ORDERS, {"limit": 2}).json()
    second = alice_api.get(first["next"]).json()
    third = alice_api.get(second["next"]).json()

    newest = ids[::-1]
    pages = [[o["id"] for o in page["results"]] for page in (first, second, third)]
    assert pages == [newest[:2], newest[2:4], newest[4:]]
    assert third["next"] is None


def test_list_with_an_unknown_symbol_is_404(symbol, alice_api):
    response = alice_api.get(ORDERS, {"symbol": "NOPE/USDT"})

    assert (response.status_code, error_code(response)) == (404, "UNKNOWN_SYMBOL")


def test_another_users_order_is_not_found(symbol, bob, alice_api):
    theirs = place(bob, symbol, "BUY", "1", "50000.00")

    response = alice_api.get(f"{ORDERS}/{theirs.id}")

    assert (response.status_code, error_code(response)) == (404, "ORDER_NOT_FOUND")


def test_order_that_does_not_exist_is_not_found(symbol, alice_api):
    response = alice_api.get(f"{ORDERS}/987654321")

    assert (response.status_code, error_code(response)) == (404, "ORDER_NOT_FOUND")


# -- cancelling --------------------------------------------------------------------


def test_cancel_of_another_users_order_is_not_found_and_writes_nothing(symbol, bob, alice_api):
    theirs = place(bob, symbol, "BUY", "1", "50000.00")
    process(symbol)

    response = alice_api.delete(f"{ORDERS}/{theirs.id}")

    assert (response.status_code, error_code(response)) == (404, "ORDER_NOT_FOUND")
    assert not EngineCommand.objects.filter(kind="CANCEL").exists()


def test_cancel_answers_202_and_the_order_ends_cancelled_by_user(symbol, alice, alice_api):
    order = place(alice, symbol, "BUY", "1", "50000.00")
    process(symbol)

    response = alice_api.delete(f"{ORDERS}/{order.id}")
    process(symbol)

    assert (response.status_code, response.json()["status"]) == (202, "OPEN")
    body = alice_api.get(f"{ORDERS}/{order.id}").json()
    assert (body["status"], body["cancel_reason"]) == ("CANCELLED", "Cancelled by user")
    usdt = {b["asset"]: b for b in alice_api.get("/api/v1/balances").json()}["USDT"]
    assert (usdt["available"], usdt["locked"]) == ("1000000", "0")


def test_cancel_of_an_already_cancelled_order_is_409(symbol, alice, alice_api):
    order = place(alice, symbol, "BUY", "1", "50000.00")
    process(symbol)
    alice_api.delete(f"{ORDERS}/{order.id}")
    process(symbol)

    response = alice_api.delete(f"{ORDERS}/{order.id}")

    assert (response.status_code, error_code(response)) == (409, "ORDER_NOT_CANCELLABLE")


def test_cancel_of_a_filled_order_is_409(symbol, alice, bob, alice_api):
    order = place(alice, symbol, "BUY", "1", "50000.00")
    place(bob, symbol, "SELL", "1", "50000.00")
    process(symbol)

    response = alice_api.delete(f"{ORDERS}/{order.id}")

    assert (response.status_code, error_code(response)) == (409, "ORDER_NOT_CANCELLABLE")


# -- fills -----------------------------------------------------------------------------


def test_fills_list_own_fills_with_trade_price_quantity_fee_and_liquidity(symbol, alice, bob, alice_api):
    place(bob, symbol, "BUY", "0.5", "50000.00")
    order = place(alice, symbol, "SELL", "0.5", "50000.00")
    process(symbol)

    response = alice_api.get(FILLS)

    assert response.status_code == 200
    [fill] = response.json()["results"]
    assert FILL_FIELDS <= set(fill)
    trade_id = order.fills.get().trade_id
    assert (fill["trade"], fill["order_id"], fill["symbol"], fill["side"]) == (trade_id, order.id, "BTC/USDT", "SELL")
    assert (fill["price"], fill["quantity"], fill["fee"], fill["fee_asset"], fill["liquidity"]) == (
        "50000.00", "0.500", "50", "USDT", "TAKER",
    )


def test_fills_filter_by_symbol(symbol, alice, bob, alice_api):
    eth = make_symbol("ETH/USDT")
    place(bob, symbol, "BUY", "0.5", "50000.00")
    place(alice, symbol, "SELL", "0.5", "50000.00")
    process(symbol)

    assert len(alice_api.get(FILLS, {"symbol": "BTC-USDT"}).json()["results"]) == 1
    assert alice_api.get(FILLS, {"symbol": eth.name}).json()["results"] == []
