"""Parsing a batch request's items one by one, so that a bad item is
refused on its own, and counting them for the rate limits (kept apart from
the view: the throttle imports it while DRF's views load)."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError

from core.api.errors import InvalidItem
from core.errors import DomainError
from orders import services
from orders.cancellation import CancelRef
from orders.validation import OrderRequest
from riskadmin.errors import UnknownSymbol
from riskadmin.selectors import find_symbols

from .serializers import PlaceOrderSerializer


def batch_items(request) -> int:
    """How many items a batch request carries (what the order rate limits
    count); a body too large to be taken counts once."""
    data = request.data if isinstance(request.data, dict) else {}
    cancels, orders = data.get("cancel", []), data.get("orders", [])
    if not isinstance(cancels, list) or not isinstance(orders, list):
        return 1
    if len(cancels) > services.MAX_BATCH_ITEMS or len(orders) > services.MAX_BATCH_ITEMS:
        return 1
    return max(1, len(cancels) + len(orders))


def parse_lists(data) -> tuple[list, list]:
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": ["Send an object with the lists cancel and orders."]})
    cancels, orders = data.get("cancel", []), data.get("orders", [])
    problems = {name: ["Must be a list."] for name, value in (("cancel", cancels), ("orders", orders)) if not isinstance(value, list)}
    if problems:
        raise ValidationError(problems)
    return cancels, orders


def cancel_ref(item) -> CancelRef | DomainError:
    """An order id, or {"client_order_id": "..."} (or {"order_id": id})."""
    if isinstance(item, dict):
        if isinstance(item.get("order_id"), int) and not isinstance(item["order_id"], bool):
            return CancelRef(order_id=item["order_id"])
        if isinstance(item.get("client_order_id"), str) and item["client_order_id"]:
            return CancelRef(client_order_id=item["client_order_id"])
    elif isinstance(item, int) and not isinstance(item, bool):
        return CancelRef(order_id=item)
    return InvalidItem({"cancel": ['Give an order id or {"client_order_id": "..."}.']})


def order_requests(items: list) -> list[OrderRequest | DomainError]:
    # One serializer for all items, as DRF's ListSerializer does: building
    # one per item (a deep copy of its fields each time) cost more than the
    # validation itself.
    serializer = PlaceOrderSerializer()
    parsed = []
    for item in items:
        try:
            parsed.append(dict(serializer.run_validation(item)))
        except ValidationError as exc:
            parsed.append(InvalidItem(exc.detail))
    symbols = find_symbols(data["symbol"] for data in parsed if isinstance(data, dict))
    requests: list[OrderRequest | DomainError] = []
    for data in parsed:
        if isinstance(data, DomainError):
            requests.append(data)
        elif data["symbol"] not in symbols:
            requests.append(UnknownSymbol(symbol=data["symbol"]))
        else:
            requests.append(OrderRequest(**{**data, "symbol": symbols[data["symbol"]]}))
    return requests
