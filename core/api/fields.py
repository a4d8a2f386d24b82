"""Rendering of exact amounts: Decimal -> plain string, never exponent form."""

from __future__ import annotations

from decimal import Decimal


def plain(value: Decimal | None, places: int | None = None) -> str | None:
    """"50000.00" style: fixed to `places` if given, else trailing zeros cut."""
    if value is None:
        return None
    if places is not None:
        return f"{value.quantize(Decimal(1).scaleb(-places)):f}"
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"
