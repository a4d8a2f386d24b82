"""Request parsing and response shapes for the trader order API."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.errors import ErrorSerializer
from core.api.fields import plain
from matching.engine import constants as c

from ..models import Fill, Order

AMOUNT = {"max_digits": 36, "decimal_places": 18, "coerce_to_string": True}


class AccountSerializer(serializers.Serializer):
    """The authenticated user."""

    id = serializers.IntegerField()
    username = serializers.CharField(source="get_username")
    is_staff = serializers.BooleanField()


class PlaceOrderSerializer(serializers.Serializer):
    symbol = serializers.CharField(max_length=32)
    side = serializers.ChoiceField(choices=[c.BUY, c.SELL])
    type = serializers.ChoiceField(choices=[c.LIMIT, c.MARKET, c.STOP_MARKET, c.STOP_LIMIT])
    time_in_force = serializers.ChoiceField(choices=[c.GTC, c.IOC, c.FOK], default=c.GTC)
    quantity = serializers.DecimalField(**AMOUNT)
    price = serializers.DecimalField(**AMOUNT, required=False, allow_null=True)
    stop_price = serializers.DecimalField(**AMOUNT, required=False, allow_null=True)
    quote_order_qty = serializers.DecimalField(
        **AMOUNT, required=False, allow_null=True, help_text="Market buys only: the most quote to spend."
    )
    post_only = serializers.BooleanField(default=False)
    client_order_id = serializers.RegexField(
        r"^[A-Za-z0-9_.:-]{1,64}$", required=False, allow_blank=True, default="",
        error_messages={"invalid": "Use 1-64 letters, digits, '_', '.', ':' or '-'."},
    )
    self_trade_prevention = serializers.ChoiceField(
        choices=[c.CANCEL_TAKER, c.CANCEL_MAKER, c.CANCEL_BOTH, c.STP_NONE], default=c.CANCEL_TAKER
    )
    totp_code = serializers.RegexField(
        r"^[0-9]{6,8}$", required=False, default="", write_only=True,
        help_text="Current TOTP code; needed when the order is worth more than your requires_2fa_above.",
    )


class AmendOrderSerializer(serializers.Serializer):
    """New values for a live order; what is left out stays as it is."""

    quantity = serializers.DecimalField(
        **AMOUNT, required=False, help_text="The new total quantity, filled part included; must stay above it."
    )
    price = serializers.DecimalField(**AMOUNT, required=False)
    stop_price = serializers.DecimalField(**AMOUNT, required=False)

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError("Give quantity, price or stop_price.")
        return attrs


class FillSerializer(serializers.ModelSerializer):
    trade = serializers.IntegerField(source="trade_id", read_only=True, help_text="The trade's id.")
    trade_id = serializers.IntegerField(read_only=True)
    order_id = serializers.IntegerField(read_only=True)
    symbol = serializers.CharField(source="symbol.name", read_only=True)
    price = serializers.SerializerMethodField()
    quantity = serializers.SerializerMethodField()
    fee = serializers.SerializerMethodField()

    class Meta:
        model = Fill
        fields = ["id", "trade", "trade_id", "order_id", "symbol", "side", "price", "quantity", "fee", "fee_asset", "liquidity", "executed_at"]

    @extend_schema_field(serializers.CharField())
    def get_price(self, fill: Fill) -> str:
        return plain(fill.price, fill.symbol.scale.price_places)

    @extend_schema_field(serializers.CharField())
    def get_quantity(self, fill: Fill) -> str:
        return plain(fill.quantity, fill.symbol.scale.quantity_places)

    @extend_schema_field(serializers.CharField())
    def get_fee(self, fill: Fill) -> str:
        return plain(fill.fee)


class OrderSerializer(serializers.ModelSerializer):
    symbol = serializers.CharField(source="symbol.name", read_only=True)
    price = serializers.SerializerMethodField()
    stop_price = serializers.SerializerMethodField()
    quantity = serializers.SerializerMethodField()
    filled_quantity = serializers.SerializerMethodField()
    remaining_quantity = serializers.SerializerMethodField()
    average_price = serializers.SerializerMethodField()
    executed_quote = serializers.SerializerMethodField()
    fills = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id", "client_order_id", "symbol", "side", "type", "time_in_force", "post_only",
            "self_trade_prevention", "price", "stop_price", "quantity", "filled_quantity",
            "remaining_quantity", "average_price", "executed_quote", "status", "reject_reason",
            "cancel_reason", "created_at", "updated_at", "fills",
        ]

    def _price(self, order: Order, value: Decimal | None) -> str | None:
        return plain(value, order.symbol.scale.price_places)

    def _qty(self, order: Order, value: Decimal) -> str:
        return plain(value, order.symbol.scale.quantity_places)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_price(self, order: Order) -> str | None:
        return self._price(order, order.price)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_stop_price(self, order: Order) -> str | None:
        return self._price(order, order.stop_price)

    @extend_schema_field(serializers.CharField())
    def get_quantity(self, order: Order) -> str:
        return self._qty(order, order.quantity)

    @extend_schema_field(serializers.CharField())
    def get_filled_quantity(self, order: Order) -> str:
        return self._qty(order, order.filled_quantity)

    @extend_schema_field(serializers.CharField())
    def get_remaining_quantity(self, order: Order) -> str:
        return self._qty(order, order.remaining_quantity)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_average_price(self, order: Order) -> str | None:
        average = order.average_price
        return None if average is None else plain(average.quantize(Decimal("1e-12")))

    @extend_schema_field(serializers.CharField())
    def get_executed_quote(self, order: Order) -> str:
        return plain(order.executed_quote)

    @extend_schema_field(FillSerializer(many=True))
    def get_fills(self, order: Order) -> list[dict]:
        # Selectors prefetch fills (ordered) so listing orders is not N+1;
        # an order that has not traded has none to look up.
        if not order.filled_quantity:
            return []
        return FillSerializer(order.fills.all(), many=True).data


class CancelledOrdersSerializer(serializers.Serializer):
    """The orders a cancel-all journaled cancels for, as they then stand."""

    cancelled = OrderSerializer(many=True)


class BatchRequestSerializer(serializers.Serializer):
    """The body of POST /api/v1/orders/batch (for the schema: items are
    parsed one by one, so a bad item fails alone)."""

    cancel = serializers.ListField(
        child=serializers.JSONField(), required=False, max_length=50,
        help_text='Orders to cancel first: an order id, or {"client_order_id": "..."}.',
    )
    orders = PlaceOrderSerializer(many=True, required=False, max_length=50)


class BatchCancelResultSerializer(serializers.Serializer):
    """One cancel: the order as it then stands, or why it was refused."""

    order_id = serializers.IntegerField(required=False)
    client_order_id = serializers.CharField(required=False)
    order = OrderSerializer(required=False)
    error = ErrorSerializer(required=False)


class BatchOrderResultSerializer(serializers.Serializer):
    """One order: as it stands after matching, or why it was refused."""

    order = OrderSerializer(required=False)
    error = ErrorSerializer(required=False)


class BatchResultSerializer(serializers.Serializer):
    cancelled = BatchCancelResultSerializer(many=True)
    orders = BatchOrderResultSerializer(many=True)
