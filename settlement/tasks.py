"""Celery tasks: thin wrappers that load ids and call services."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings

from . import trades, wallet

log = logging.getLogger(__name__)

# Trades per settlement task: a matcher batch's worth. The sweeper and the
# admin retry cut their lists to this size too.
BATCH_SIZE = 500


def batches(trade_ids: list[int]) -> list[list[int]]:
    return [trade_ids[i:i + BATCH_SIZE] for i in range(0, len(trade_ids), BATCH_SIZE)]


class SettlementTask(Task):
    """Retries with exponential backoff and jitter; after the last retry the
    trades still unsettled are marked FAILED so operators see them (the
    sweeper skips them).

    A batch that fails is split in halves rather than retried whole, so one
    trade that cannot settle holds up no other: only a batch of one retries.
    Waiting for the wallet service is not a failure: see settle_trades below."""

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
        trade_ids = _trade_ids(args, kwargs)
        if trade_ids:
            trades.mark_settlement_failed(trade_ids=trade_ids, error=f"{exc.__class__.__name__}: {exc}")
            log.error("settlement of trades %s failed for good: %s", trade_ids, exc)


def _trade_ids(args, kwargs) -> list[int]:
    ids = kwargs.get("trade_ids", kwargs.get("trade_id", args[0] if args else None))
    if ids is None:
        return []
    return [ids] if isinstance(ids, int) else list(ids)


@shared_task(base=SettlementTask, bind=True)
def settle_trades(self, trade_ids: list[int]) -> int:
    """Settle a batch of trades in one transaction; returns how many were
    settled now (those already SETTLED are skipped).

    While the wallet service is unavailable (its circuit open, or calls to
    it failing) the batch waits, however long that takes, and is never
    marked FAILED for it: the task is published again with a countdown and
    the same retry count, so the wait consumes none of
    SETTLEMENT_MAX_RETRIES. Should this worker die before acknowledging, the
    copy is a harmless duplicate."""
    try:
        return len(trades.settle_trades(trade_ids=trade_ids))
    except wallet.WalletUnavailable as exc:
        if self.request.is_eager:  # nothing to wait in: let the caller see it
            raise
        delay = wallet.retry_delay()
        log.warning("settlement of %d trades waits %.1fs for the wallet service: %s", len(trade_ids), delay, exc)
        self.apply_async(args=(trade_ids,), countdown=delay, retries=self.request.retries)
        return 0
    except Exception as exc:
        if len(trade_ids) < 2:
            raise  # retried with backoff, then FAILED (SettlementTask)
        half = len(trade_ids) // 2
        log.warning("settlement of %d trades failed, settling them in halves: %s", len(trade_ids), exc)
        for part in (trade_ids[:half], trade_ids[half:]):
            self.apply_async(args=(part,), retries=self.request.retries)
        return 0


@shared_task(base=SettlementTask, bind=True)
def settle_trade(self, trade_id: int) -> bool:
    """One trade, as queued before settlement went by batches: kept so that
    messages already in the broker still settle. A batch of one."""
    try:
        return trades.settle_trade(trade_id=trade_id)
    except wallet.WalletUnavailable as exc:
        if self.request.is_eager:
            raise
        delay = wallet.retry_delay()
        log.warning("settlement of trade %s waits %.1fs for the wallet service: %s", trade_id, delay, exc)
        self.apply_async(args=(trade_id,), countdown=delay, retries=self.request.retries)
        return False


@shared_task(acks_late=True)
def sweep_unsettled() -> int:
    """Re-queue trades left PENDING (a lost message, a matcher killed before
    it enqueued them), in batches. Settling is idempotent, so a duplicate is
    harmless. Returns how many trades were queued."""
    trade_ids = trades.unsettled_trade_ids(older_than_seconds=settings.SETTLEMENT_SWEEP_AGE_SECONDS)
    for batch in batches(trade_ids):
        settle_trades.delay(batch)
    if trade_ids:
        log.info("sweeper re-queued %d unsettled trades", len(trade_ids))
    return len(trade_ids)
