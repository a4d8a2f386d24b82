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


class LedgerEntry(models.Model):
    """One immutable line of the double-entry ledger.

    Every posting's entries sum to zero per asset. AVAILABLE and LOCKED lines
    are mirrored in Balance; EXTERNAL lines are the contra side of deposits
    and withdrawals (funds held outside the exchange). A database trigger
    refuses UPDATE and DELETE on this table.
    """

    class Bucket(models.TextChoices):
        AVAILABLE = "AVAILABLE"
        LOCKED = "LOCKED"
        EXTERNAL = "EXTERNAL"

    class Kind(models.TextChoices):
        DEPOSIT = "DEPOSIT"
        ORDER_LOCK = "ORDER_LOCK"
        ORDER_RELEASE = "ORDER_RELEASE"
        TRADE = "TRADE"
        FEE = "FEE"

    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ledger_entries")
    asset = models.CharField(max_length=16)
    bucket = models.CharField(max_length=9, choices=Bucket.choices)
    amount = models.DecimalField(**MONEY)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # What caused the posting ("trade:42", "order:17", "deposit:<uuid>") and which
    # leg of it this line is: unique together, so no leg is ever posted twice.
    reference = models.CharField(max_length=96)
    leg = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["reference", "leg"], name="ledger_one_line_per_leg"),
        ]
        indexes = [models.Index(fields=["account", "asset"], name="ledger_account_asset")]

    def __str__(self) -> str:
        return f"{self.reference}/{self.leg}: {self.account_id} {self.asset} {self.bucket} {self.amount}"
