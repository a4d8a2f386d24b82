"""Order-type combinations that are invalid before any matching happens."""

from .constants import FOK, IOC, MARKET, STOP_TYPES


class OrderRuleError(ValueError):
    """An order whose flags contradict each other; `code` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_order_combination(*, type: str, time_in_force: str, post_only: bool) -> None:
    """Raise OrderRuleError for combinations no book can honour."""
    if not post_only:
        return
    if time_in_force in (IOC, FOK):
        raise OrderRuleError("POST_ONLY_WITH_IOC_OR_FOK", "A post-only order must be GTC.")
    if type == MARKET:
        raise OrderRuleError("POST_ONLY_MARKET_ORDER", "A market order cannot be post-only.")
    if type in STOP_TYPES:
        raise OrderRuleError("POST_ONLY_STOP_ORDER", "A stop order cannot be post-only.")
