"""String constants shared by the engine and the Django shell around it."""

BUY = "BUY"
SELL = "SELL"

LIMIT = "LIMIT"
MARKET = "MARKET"
STOP_MARKET = "STOP_MARKET"
STOP_LIMIT = "STOP_LIMIT"
STOP_TYPES = frozenset({STOP_MARKET, STOP_LIMIT})

GTC = "GTC"
IOC = "IOC"
FOK = "FOK"

CANCEL_TAKER = "CANCEL_TAKER"
CANCEL_MAKER = "CANCEL_MAKER"
CANCEL_BOTH = "CANCEL_BOTH"
STP_NONE = "NONE"

PENDING = "PENDING"
UNTRIGGERED = "UNTRIGGERED"
OPEN = "OPEN"
PARTIALLY_FILLED = "PARTIALLY_FILLED"
FILLED = "FILLED"
CANCELLED = "CANCELLED"
REJECTED = "REJECTED"
FINAL_STATUSES = frozenset({FILLED, CANCELLED, REJECTED})

# Reasons recorded on orders; the API shows them verbatim.
IOC_NOT_FILLED = "IOC order not filled"
FOK_NOT_FILLED = "FOK order not filled"
MARKET_NOT_FILLED = "Market order not fully filled"
MARKET_BUDGET_EXHAUSTED = "Market order reached its locked funds"
SELF_TRADE_PREVENTED = "Self-trade prevention"
CANCELLED_BY_USER = "Cancelled by user"
POST_ONLY_WOULD_MATCH = "POST_ONLY_WOULD_MATCH"
# The shell could not fund an order that counted on a same-batch cancel's funds.
INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
