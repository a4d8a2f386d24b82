"""Celery tasks: thin wrappers that load ids and call services."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, retry_jitter=True, max_retries=8)
def settle_trade(trade_id: int) -> bool:
    return services.settle_trade(trade_id=trade_id)
