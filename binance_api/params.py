"""Query parameters as Binance reads them, refused with Binance's codes:
-1102 missing, -1105 empty, -1100 illegal characters, -1101 sent twice,
-1121 unknown symbol."""

from __future__ import annotations

import json
import re

from riskadmin.models import Symbol

from . import errors, symbols

SYMBOL_RANGE = "^[A-Z0-9-_.]{1,20}$"
SYMBOLS_RANGE = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'
INTEGER_RANGE = "^[0-9]{1,20}$"
_SYMBOL = re.compile(SYMBOL_RANGE)
_INTEGER = re.compile(INTEGER_RANGE)


def text(query, name: str, *, required: bool = False) -> str | None:
    if len(query.getlist(name)) > 1:
        raise errors.duplicate(name)
    value = query.get(name)
    if value is None:
        if required:
            raise errors.mandatory(name)
        return None
    if value == "":
        raise errors.mandatory(name) if required else errors.empty(name)
    return value


def integer(query, name: str, *, default: int | None = None, minimum: int = 0, maximum: int | None = None) -> int | None:
    """A whole number; below `minimum` it is refused, above `maximum` cut to
    it (as Binance truncates depth)."""
    value = text(query, name)
    if value is None:
        return default
    if not _INTEGER.match(value):
        raise errors.illegal_characters(name, INTEGER_RANGE)
    number = int(value)
    if number < minimum:
        raise errors.invalid_parameter()
    return number if maximum is None else min(number, maximum)


def limit(query, *, default: int, maximum: int) -> int:
    return integer(query, "limit", default=default, minimum=1, maximum=maximum)


def lenient_integer(query, name: str, default: int) -> int:
    """For weighing a request before it is validated: malformed reads `default`."""
    value = query.get(name) or ""
    return int(value) if _INTEGER.match(value) else default


def symbol(query, *, required: bool = True) -> Symbol | None:
    name = text(query, "symbol", required=required)
    if name is None:
        return None
    if not _SYMBOL.match(name):
        raise errors.illegal_characters("symbol", SYMBOL_RANGE)
    return symbols.find(name)


def symbol_names(query) -> list[str] | None:
    """The `symbols` parameter, a JSON array: ["BTCUSDT","ETHUSDT"]."""
    value = text(query, "symbols")
    if value is None:
        return None
    try:
        names = json.loads(value)
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) and _SYMBOL.match(n) for n in names):
        raise errors.illegal_characters("symbols", SYMBOLS_RANGE)
    if not names:
        raise errors.empty("symbols")
    return names


def selected_symbols(query) -> tuple[list[Symbol], bool]:
    """The symbols `symbol` or `symbols` name (not both), else every symbol;
    and whether one symbol was asked for by `symbol` (a single-object answer)."""
    one, many = text(query, "symbol"), symbol_names(query)
    if one is not None and many is not None:
        raise errors.bad_combination()
    if one is not None:
        return [symbol(query)], True
    if many is not None:
        return symbols.find_many(many), False
    return symbols.every(), False


def symbol_count(query) -> int | None:
    """How many symbols a request names (None: every symbol), for its weight."""
    if query.get("symbol"):
        return 1
    try:
        names = json.loads(query.get("symbols") or "null")
    except ValueError:
        return 1
    return len(names) if isinstance(names, list) else None
