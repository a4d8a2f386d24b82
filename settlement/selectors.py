"""Reads of balances."""

from django.db.models import QuerySet

from .models import Balance


def balances_for(*, user_id: int) -> QuerySet[Balance]:
    return Balance.objects.filter(user_id=user_id).order_by("asset")
