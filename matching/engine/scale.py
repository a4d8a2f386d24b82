"""Exact conversion between Decimal amounts and the engine's integers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


def places(step: Decimal) -> int:
    """Decimal places a step needs: 0.01 -> 2, 1 -> 0, 5 -> 0."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent)


@dataclass(frozen=True)
class SymbolScale:
    """A symbol's tick (price step) and lot (quantity step).

    A notional unit is one tick times one lot: the smallest quote amount an
    integer price times an integer quantity can express.
    """

    tick_size: Decimal
    step_size: Decimal

    @property
    def unit(self) -> Decimal:
        return self.tick_size * self.step_size

    def is_on_tick(self, price: Decimal) -> bool:
        return price % self.tick_size == 0

    def is_on_step(self, quantity: Decimal) -> bool:
        return quantity % self.step_size == 0

    def to_ticks(self, price: Decimal) -> int:
        ticks, rest = divmod(price, self.tick_size)
        if rest:
            raise ValueError(f"{price} is not a multiple of the tick size {self.tick_size}")
        return int(ticks)

    def to_lots(self, quantity: Decimal) -> int:
        lots, rest = divmod(quantity, self.step_size)
        if rest:
            raise ValueError(f"{quantity} is not a multiple of the step size {self.step_size}")
        return int(lots)

    def to_units_floor(self, quote: Decimal) -> int:
        """Whole notional units a quote amount covers (rounded down)."""
        return int(quote // self.unit)

    def price(self, ticks: int) -> Decimal:
        return ticks * self.tick_size

    def quantity(self, lots: int) -> Decimal:
        return lots * self.step_size

    def quote(self, units: int) -> Decimal:
        return units * self.unit

    @property
    def price_places(self) -> int:
        return places(self.tick_size)

    @property
    def quantity_places(self) -> int:
        return places(self.step_size)
