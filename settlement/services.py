"""What the rest of the exchange asks of settlement: settle these trades,
retry those that failed. Both hand the work to the settlement tasks, a batch
of trades per task."""

from __future__ import annotations

import logging
from typing import Iterable

from django.db import transaction

from orders.models import Trade

from .tasks import batches, settle_trades

log = logging.getLogger(__name__)


def enqueue_settlement(trade_ids: list[int]) -> None:
    """Hand committed trades to the workers: one task per batch (a matcher
    batch's worth, cut at tasks.BATCH_SIZE). A broker outage only delays
    them (the sweeper re-queues what is left PENDING)."""
    for batch in batches(list(trade_ids)):
        try:
            settle_trades.delay(batch)
        except Exception as exc:  # the broker is down: the sweeper re-queues later
            log.warning("could not enqueue settlement of %d trades: %s", len(trade_ids), exc)
            return


def retry_failed_settlements(*, trade_ids: Iterable[int]) -> int:
    """Put FAILED trades back to PENDING and queue them again, in batches
    (operator action)."""
    ids = list(
        Trade.objects.filter(id__in=list(trade_ids), settlement_status=Trade.Settlement.FAILED).values_list("id", flat=True)
    )
    Trade.objects.filter(id__in=ids, settlement_status=Trade.Settlement.FAILED).update(
        settlement_status=Trade.Settlement.PENDING, settlement_error=""
    )
    for batch in batches(sorted(ids)):
        transaction.on_commit(lambda batch=batch: settle_trades.delay(batch))
    return len(ids)
