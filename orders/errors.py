"""Order errors, one type per rule, each with its API code."""

from core.errors import DomainError


class InvalidQuantity(DomainError):
    code = "INVALID_QUANTITY"
    default_message = "The quantity is not valid."


class InvalidPrice(DomainError):
    code = "INVALID_PRICE"
    default_message = "The price is not valid."


class PriceNotOnTick(DomainError):
    code = "PRICE_NOT_ON_TICK"
    default_message = "The price is not a multiple of the symbol's tick size."


class QuantityNotOnStep(DomainError):
    code = "QUANTITY_NOT_ON_STEP"
    default_message = "The quantity is not a multiple of the symbol's step size."


class MinNotional(DomainError):
    code = "MIN_NOTIONAL"
    default_message = "The order's value is below the symbol's minimum notional."


class SymbolHalted(DomainError):
    code = "SYMBOL_HALTED"
    status = 409
    default_message = "Trading on this symbol is halted."


class InvalidOrderCombination(DomainError):
    """Post-only with IOC/FOK, post-only market, post-only stop: code varies."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class DuplicateClientOrderId(DomainError):
    code = "DUPLICATE_CLIENT_ORDER_ID"
    status = 409
    default_message = "This client_order_id was already used for a different order."


class OrderNotFound(DomainError):
    code = "ORDER_NOT_FOUND"
    status = 404
    default_message = "No such order."


class OrderNotCancellable(DomainError):
    code = "ORDER_NOT_CANCELLABLE"
    status = 409
    default_message = "The order is already final and cannot be cancelled."


class OrderNotAmendable(DomainError):
    code = "ORDER_NOT_AMENDABLE"
    default_message = "Market orders and stop-market buys cannot be amended."


class AmendPending(DomainError):
    code = "AMEND_PENDING"
    status = 409
    default_message = "An earlier amend of this order is still waiting for the matcher."


class BatchTooLarge(DomainError):
    code = "BATCH_TOO_LARGE"
    default_message = "A batch takes at most 50 cancels and 50 orders; nothing was applied."
