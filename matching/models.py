"""The matcher's durable input (the command journal) and its per-symbol state."""

from django.db import models
from django.db.models import Q


class EngineCommand(models.Model):
    """One instruction for the matcher, written in the same transaction as
    the order change it carries. The matcher marks it processed in the same
    transaction as the results, so it is applied exactly once."""

    class Kind(models.TextChoices):
        PLACE = "PLACE"
        CANCEL = "CANCEL"
        AMEND = "AMEND"

    symbol = models.ForeignKey("riskadmin.Symbol", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="commands")
    reason = models.CharField(max_length=64, blank=True, default="")
    # PLACE: the order as placed (replay needs it once amends change the row).
    # AMEND: the new total quantity, price and stop price.
    quantity = models.DecimalField(max_digits=36, decimal_places=18, null=True, blank=True)
    price = models.DecimalField(max_digits=36, decimal_places=18, null=True, blank=True)
    stop_price = models.DecimalField(max_digits=36, decimal_places=18, null=True, blank=True)
    # PLACE from a batch: the part of the order's lock that the batch's own
    # cancels are to free. The matcher locks it once those cancels are applied,
    # or rejects the order (INSUFFICIENT_BALANCE) when they freed too little.
    borrowed = models.DecimalField(max_digits=36, decimal_places=18, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["symbol", "id"], condition=Q(processed_at__isnull=True), name="command_unprocessed"),
            # verify_book and archiving read a symbol's processed commands in processing order.
            models.Index(
                fields=["symbol", "processed_at", "id"], condition=Q(processed_at__isnull=False), name="command_processed"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} order {self.order_id}"


class MatcherState(models.Model):
    """What a symbol's matcher has done so far, updated with every batch."""

    symbol = models.OneToOneField("riskadmin.Symbol", on_delete=models.CASCADE, primary_key=True, related_name="matcher_state")
    book_sequence = models.BigIntegerField(default=0)
    trade_sequence = models.BigIntegerField(default=0)
    order_sequence = models.BigIntegerField(default=0)
    last_command_id = models.BigIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    owner = models.CharField(max_length=128, blank=True, default="")


class ArchivedCommand(models.Model):
    """A processed command moved out of the hot journal after the retention
    period (matching.archive), kept for the audit trail and full replays.
    Same columns as EngineCommand (a test keeps them in step)."""

    id = models.BigIntegerField(primary_key=True)  # the EngineCommand id it had
    symbol = models.ForeignKey("riskadmin.Symbol", on_delete=models.PROTECT, related_name="+", db_index=False)
    kind = models.CharField(max_length=8, choices=EngineCommand.Kind.choices)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="archived_commands")
    reason = models.CharField(max_length=64, blank=True, default="")
    quantity = models.DecimalField(max_digits=36, decimal_places=18, null=True, blank=True)
    price = models.DecimalField(max_digits=36, decimal_places=18, null=True, blank=True)
    stop_price = models.DecimalField(max_digits=36, decimal_places=18, null=True, blank=True)
    borrowed = models.DecimalField(max_digits=36, decimal_places=18, null=True, blank=True)
    created_at = models.DateTimeField()
    processed_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["symbol", "processed_at", "id"], name="archived_command_replay")]

    def __str__(self) -> str:
        return f"{self.kind} order {self.order_id} (archived)"


class JournalCheckpoint(models.Model):
    """A symbol's book as a replay that verified clean left it after every
    command processed up to `through`: where verify_book starts instead of
    the beginning of the journal, and what lets older commands be archived."""

    symbol = models.OneToOneField("riskadmin.Symbol", on_delete=models.PROTECT, primary_key=True, related_name="+")
    through = models.DateTimeField()  # covers the commands with processed_at <= through
    last_command_id = models.BigIntegerField(default=0)  # the last of them in processing order
    commands = models.BigIntegerField(default=0)  # how many, since the journal began
    book_sequence = models.BigIntegerField(default=0)
    trade_sequence = models.BigIntegerField(default=0)
    order_sequence = models.BigIntegerField(default=0)
    last_price = models.BigIntegerField(null=True, blank=True)  # in ticks
    # Resting orders and untriggered stops as engine fields, in time priority.
    orders = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.symbol_id} through {self.through:%Y-%m-%d %H:%M:%S}"
