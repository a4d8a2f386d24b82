"""Move processed commands older than the retention period out of the hot
journal, after a clean replay checkpoints each symbol (matching/archive.py)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from matching.archive import ArchiveBusy, archive_journal


class Command(BaseCommand):
    help = "Checkpoint each symbol's book and archive the commands processed before the retention period."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--retention-days", type=float, default=settings.JOURNAL_RETENTION_DAYS,
            help="Keep commands processed within this many days hot (default: JOURNAL_RETENTION_DAYS).",
        )
        parser.add_argument("--chunk", type=int, default=settings.JOURNAL_ARCHIVE_CHUNK, help="Commands moved per transaction.")

    def handle(self, *args, retention_days: float, chunk: int, **options) -> None:
        def progress(name: str, moved: int) -> None:
            if options["verbosity"] > 1:
                self.stdout.write(f"{name}: moved {moved}")
                self.stdout.flush()

        try:
            reports = archive_journal(retention=timedelta(days=retention_days), chunk=chunk, on_chunk=progress)
        except ArchiveBusy as error:
            raise CommandError(str(error)) from error
        for report in reports:
            if not report.ok:
                self.stderr.write(f"{report.symbol} NOT ARCHIVED, the replay does not match:")
                for problem in report.problems:
                    self.stderr.write(f"  {problem}")
            else:
                through = report.through.isoformat() if report.through else "no checkpoint yet"
                self.stdout.write(f"{report.symbol}: {report.moved} commands archived (checkpoint through {through})")
        failed = [report.symbol for report in reports if not report.ok]
        if failed:
            raise CommandError(f"archiving refused for {', '.join(failed)}")
