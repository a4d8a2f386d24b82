"""Binance names symbols "BTCUSDT"; we name them "BTC/USDT". The one
mapping between the two, both ways."""

from __future__ import annotations

from django.db.models import QuerySet
from django.db.models.functions import Concat

from riskadmin.models import Symbol

from . import errors


def binance_name(symbol: Symbol) -> str:
    return f"{symbol.base_asset}{symbol.quote_asset}"


def _with_binance_names() -> QuerySet[Symbol]:
    return Symbol.objects.select_related("limit").annotate(binance_name=Concat("base_asset", "quote_asset"))


def find(name: str) -> Symbol:
    """The symbol Binance calls `name`; -1121 when there is none."""
    found = _with_binance_names().filter(binance_name=name).first()
    if found is None:
        raise errors.invalid_symbol()
    return found


def find_many(names: list[str]) -> list[Symbol]:
    """The symbols of `names`, in that order; -1121 when one is unknown."""
    found = {s.binance_name: s for s in _with_binance_names().filter(binance_name__in=names)}
    if any(name not in found for name in names):
        raise errors.invalid_symbol()
    return [found[name] for name in dict.fromkeys(names)]


def every() -> list[Symbol]:
    return list(Symbol.objects.select_related("limit").order_by("base_asset", "quote_asset"))
