"""Numbers and times the way Binance writes them: amounts as strings with
eight decimals ("0.01000000"; more only when a value needs them, amounts
are exact), times as epoch milliseconds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from core.api.fields import plain

PLACES = 8


def amount(value: Decimal | str | None) -> str:
    """An amount, price or quantity; None (nothing yet) reads zero."""
    number = Decimal(0) if value is None else Decimal(value)
    exponent = number.normalize().as_tuple().exponent
    return plain(number, max(PLACES, -exponent if isinstance(exponent, int) else PLACES))


def rounded(value: Decimal, places: int = PLACES) -> str:
    """A derived figure (an average, a percentage) rounded to `places`."""
    return plain(value, places)


def millis(moment: datetime | str) -> int:
    """A datetime, or the ISO 8601 text the market-data selectors render,
    in whole milliseconds (integer arithmetic: no float rounding)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return int(moment.replace(microsecond=0).timestamp()) * 1000 + moment.microsecond // 1000


def from_millis(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1000, tz=timezone.utc) + timedelta(milliseconds=value % 1000)
