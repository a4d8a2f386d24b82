"""Celery tasks: thin wrappers that load ids and call services."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings

from . import trades, wallet

log = logging.getLogger(__name__)


class SettlementTask(Task):
    """Retries with exponential backoff and jitter; after the last retry the
    trade is marked FAILED so operators see it (the sweeper skips it).

    Waiting for the wallet service is not a failure of the trade: see
    settle_trade below."""

    autoretry_for = (Exception,)
    retry_backoff = True
    retry_backoff_max = 60
    retry_jitter = True
    acks_late = True
    reject_on_worker_lost = True

    @property
    def max_retries(self) -> int:  # read at call time so tests and operators can tune it
        return settings.SETTLEMENT_MAX_RETRIES

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        trade_id = kwargs.get("trade_id", args[0] if args else None)
        if trade_id is not None:
            trades.mark_settlement_failed(trade_id=trade_id, error=f"{exc.__class__.__name__}: {exc}")
            log.error("settlement of trade %s failed for good: %s", trade_id, exc)


@shared_task(base=SettlementTask, bind=True)
def settle_trade(self, trade_id: int) -> bool:
    """While the wallet service is unavailable (its circuit open, or calls to
    it failing) the trade waits, however long that takes, and is never marked
    FAILED for it: the task is published again with a countdown and the same
    retry count, so the wait consumes none of SETTLEMENT_MAX_RETRIES. Should
    this worker die before acknowledging, the copy is a harmless duplicate."""
    try:
        return trades.settle_trade(trade_id=trade_id)
    except wallet.WalletUnavailable as exc:
        if self.request.is_eager:  # nothing to wait in: let the caller see it
            raise
        delay = wallet.retry_delay()
        log.warning("settlement of trade %s waits %.1fs for the wallet service: %s", trade_id, delay, exc)
        self.apply_async(args=(trade_id,), countdown=delay, retries=self.request.retries)
        return False


@shared_task(acks_late=True)
def sweep_unsettled() -> int:
    """Re-queue trades left PENDING (a lost message, a matcher killed before
    it enqueued them). Settling is idempotent, so a duplicate is harmless."""
    trade_ids = trades.unsettled_trade_ids(older_than_seconds=settings.SETTLEMENT_SWEEP_AGE_SECONDS)
    for trade_id in trade_ids:
        settle_trade.delay(trade_id)
    if trade_ids:
        log.info("sweeper re-queued %d unsettled trades", len(trade_ids))
    return len(trade_ids)
