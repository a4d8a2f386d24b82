"""What the rest of the exchange asks of settlement: settle these trades,
retry those that failed. Both hand the work to the settlement tasks."""

from __future__ import annotations

import logging
from typing import Iterable

from django.db import transaction

from orders.models import Trade

from .tasks import settle_trade

log = logging.getLogger(__name__)


def enqueue_settlement(trade_ids: list[int]) -> None:
    """Hand committed trades to the workers; a broker outage only delays
    them (the sweeper re-queues what is left PENDING)."""
    for trade_id in trade_ids:
        try:
            settle_trade.delay(trade_id)
        except Exception as exc:  # the broker is down: the sweeper re-queues later
            log.warning("could not enqueue settlement of trade %s: %s", trade_id, exc)
            return


def retry_failed_settlements(*, trade_ids: Iterable[int]) -> int:
    """Put FAILED trades back to PENDING and queue them again (operator action)."""
    ids = list(
        Trade.objects.filter(id__in=list(trade_ids), settlement_status=Trade.Settlement.FAILED).values_list("id", flat=True)
    )
    Trade.objects.filter(id__in=ids, settlement_status=Trade.Settlement.FAILED).update(
        settlement_status=Trade.Settlement.PENDING, settlement_error=""
    )
    for trade_id in ids:
        transaction.on_commit(lambda trade_id=trade_id: settle_trade.delay(trade_id))
    return len(ids)
