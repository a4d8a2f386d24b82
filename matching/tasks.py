"""Periodic journal archiving, run by Celery beat (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from .archive import ArchiveBusy, archive_journal

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def archive_old_commands() -> None:
    try:
        reports = archive_journal(
            retention=timedelta(days=settings.JOURNAL_RETENTION_DAYS), chunk=settings.JOURNAL_ARCHIVE_CHUNK
        )
    except ArchiveBusy:
        log.info("journal archiving already running elsewhere")
        return
    for report in reports:
        log.info("journal archive %s: moved %s, checkpoint through %s, ok=%s",
                 report.symbol, report.moved, report.through, report.ok)
