"""Serializer fields shared by the apps' output serializers.

Kept apart from core.api.fields, which the matcher and the market-data
publisher import too: they need `plain`, not Django REST framework."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .fields import plain


@extend_schema_field(OpenApiTypes.STR)
class PlainDecimalField(serializers.Field):
    """A Decimal rendered with `plain`, trailing zeros cut ("1000.5").
    DRF's DecimalField would pad every value to its decimal_places instead, so
    amounts would read differently from the rest of the API. Output only:
    request bodies parse amounts with DecimalField."""

    def to_representation(self, value: Decimal) -> str:
        return plain(value)
