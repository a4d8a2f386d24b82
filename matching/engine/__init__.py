"""Pure-Python matching core: price-time priority, stops, self-trade prevention.

Nothing here imports Django or does I/O. Prices are integer ticks, quantities
integer lots and quote amounts integer "notional units" (one tick times one
lot), so every comparison and sum is exact.
"""

from .book import BookSide, Level
from .engine import MatchingEngine
from .orders import Order, Trade
from .rules import OrderRuleError, check_order_combination

__all__ = [
    "BookSide",
    "Level",
    "MatchingEngine",
    "Order",
    "OrderRuleError",
    "Trade",
    "check_order_combination",
]
