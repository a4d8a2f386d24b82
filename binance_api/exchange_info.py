"""GET /api/v3/exchangeInfo: each symbol's trading rules as Binance's
filters, from the symbol's own filters and its operator limits."""

from __future__ import annotations

from decimal import Decimal

from riskadmin.models import MONEY, Symbol, SymbolLimit

from . import symbols
from .formats import amount

# Our order kinds by Binance's names: STOP_LOSS is our STOP_MARKET,
# STOP_LOSS_LIMIT our STOP_LIMIT, LIMIT_MAKER a post-only LIMIT.
ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT"]
# Binance's self-trade prevention modes and ours: EXPIRE_TAKER is our
# CANCEL_TAKER, EXPIRE_MAKER CANCEL_MAKER, EXPIRE_BOTH CANCEL_BOTH.
STP_MODES = {"NONE": "NONE", "EXPIRE_TAKER": "CANCEL_TAKER", "EXPIRE_MAKER": "CANCEL_MAKER", "EXPIRE_BOTH": "CANCEL_BOTH"}
# Binance's published default for orders that name no mode.
DEFAULT_STP_MODE = "EXPIRE_MAKER"
STATUSES = {Symbol.Status.TRADING: "TRADING", Symbol.Status.HALTED: "HALT"}
# The largest amount an amount column holds: the bound where we set none.
_LARGEST = Decimal(10) ** (MONEY["max_digits"] - MONEY["decimal_places"])


def symbol_status(symbol: Symbol) -> str:
    return STATUSES.get(symbol.status, "BREAK")


def _largest(step: Decimal) -> Decimal:
    return _LARGEST - step


def _limit(symbol: Symbol) -> SymbolLimit | None:
    try:
        return symbol.limit
    except SymbolLimit.DoesNotExist:
        return None


def filters(symbol: Symbol) -> list[dict]:
    limit = _limit(symbol)
    min_qty = max(symbol.min_quantity, limit.min_order_size or 0) if limit else symbol.min_quantity
    max_qty = limit.max_order_size if limit and limit.max_order_size is not None else _largest(symbol.step_size)
    lot = {"minQty": amount(min_qty), "maxQty": amount(max_qty), "stepSize": amount(symbol.step_size)}
    found = [{"filterType": "PRICE_FILTER", "minPrice": amount(symbol.tick_size),
              "maxPrice": amount(_largest(symbol.tick_size)), "tickSize": amount(symbol.tick_size)}]
    if limit and limit.max_price_deviation is not None:
        # Against the last price (avgPriceMins 0), the same band both sides.
        up, down = amount(1 + limit.max_price_deviation), amount(max(Decimal(0), 1 - limit.max_price_deviation))
        found.append({"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": up, "bidMultiplierDown": down,
                      "askMultiplierUp": up, "askMultiplierDown": down, "avgPriceMins": 0})
    found.append({"filterType": "LOT_SIZE", **lot})
    found.append({"filterType": "MARKET_LOT_SIZE", **lot})
    # The minimum value applies to market orders too (judged at the last price).
    found.append({"filterType": "MIN_NOTIONAL", "minNotional": amount(symbol.min_notional), "applyToMarket": True,
                  "avgPriceMins": 0})
    found.append({"filterType": "NOTIONAL", "minNotional": amount(symbol.min_notional), "applyMinToMarket": True,
                  "maxNotional": amount(_largest(symbol.tick_size * symbol.step_size)), "applyMaxToMarket": False,
                  "avgPriceMins": 0})
    return found


def symbol_info(symbol: Symbol, *, permission_sets: bool = True) -> dict:
    info = {
        "symbol": symbols.binance_name(symbol),
        "status": symbol_status(symbol),
        "baseAsset": symbol.base_asset,
        "baseAssetPrecision": 8,
        "quoteAsset": symbol.quote_asset,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ORDER_TYPES,
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": True,
        "amendAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": filters(symbol),
        "permissions": ["SPOT"],
        "defaultSelfTradePreventionMode": DEFAULT_STP_MODE,
        "allowedSelfTradePreventionModes": list(STP_MODES),
    }
    if permission_sets:
        info["permissionSets"] = [["SPOT"]]
    return info
