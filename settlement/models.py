"""Per-user, per-asset balances. The database forbids negative amounts."""

from django.conf import settings
from django.db import models

MONEY = {"max_digits": 36, "decimal_places": 18}


class Balance(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="balances")
    asset = models.CharField(max_length=16)
    available = models.DecimalField(**MONEY, default=0)
    locked = models.DecimalField(**MONEY, default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["asset"]
        constraints = [
            models.UniqueConstraint(fields=["user", "asset"], name="balance_one_row_per_user_asset"),
            models.CheckConstraint(condition=models.Q(available__gte=0), name="balance_available_not_negative"),
            models.CheckConstraint(condition=models.Q(locked__gte=0), name="balance_locked_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.asset}: {self.available} + {self.locked} locked"
