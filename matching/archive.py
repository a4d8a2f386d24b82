"""Keep the hot command journal small: move processed commands older than
the retention period into ArchivedCommand.

Per symbol, first a checkpoint: verify_book's replay from the previous
checkpoint through every processed command must match the stored trades,
orders and book; the replayed book as it stood at the cutoff becomes the new
checkpoint (verify_book starts there from then on). Only then are the
commands processed up to the checkpoint moved, a chunk per statement: each
chunk's DELETE ... RETURNING and INSERT are one statement, so a run killed
at any moment has moved whole chunks only, and the next run moves the rest.
A symbol whose replay does not match is reported and left as it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from riskadmin.models import Symbol

from . import checkpoint as checkpoints
from .models import ArchivedCommand, EngineCommand, JournalCheckpoint
from .verify import snapshot_transaction, verify_symbol

log = logging.getLogger(__name__)

# A batch's processed_at is stamped just before it commits: never cut closer
# to now than this, so no batch stamped before the cutoff is still in flight.
MIN_AGE = timedelta(minutes=5)
LOCK_KEY = 0x6A6F75726E616C  # pg advisory lock: one archiver at a time


class ArchiveBusy(RuntimeError):
    """Another archiver holds the lock."""


@dataclass
class SymbolArchive:
    symbol: str
    through: datetime | None = None  # the symbol's checkpoint after this run
    moved: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def cutoff_for(retention: timedelta, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - max(retention, MIN_AGE)


def archive_journal(*, retention: timedelta, chunk: int = 10_000, symbols: list[Symbol] | None = None,
                    on_chunk=None) -> list[SymbolArchive]:
    """Checkpoint and archive every symbol (or those given). `on_chunk(name,
    moved)` is called after each committed chunk."""
    cutoff = cutoff_for(retention)
    with _archiver_lock():
        return [
            archive_symbol(symbol, cutoff, chunk=chunk, on_chunk=on_chunk)
            for symbol in (symbols if symbols is not None else Symbol.objects.order_by("name"))
        ]


def archive_symbol(symbol: Symbol, cutoff: datetime, *, chunk: int, on_chunk=None) -> SymbolArchive:
    report = SymbolArchive(symbol.name)
    current = JournalCheckpoint.objects.filter(symbol=symbol).first()
    if _has_commands_to_checkpoint(symbol, current, cutoff):
        with snapshot_transaction():
            verification = verify_symbol(symbol, snapshot_at=cutoff)
            if verification.ok:
                current = checkpoints.save(symbol, verification.taken)
        if not verification.ok:
            report.problems = verification.problems
            log.error("%s: replay does not match the stored book; nothing archived: %s", symbol.name, report.problems)
            return report
    if current is not None:
        report.through = current.through
        # Up to the checkpoint only, even when an earlier run left some behind.
        report.moved = move_commands(symbol, current.through, chunk=chunk, on_chunk=on_chunk)
    return report


def _has_commands_to_checkpoint(symbol: Symbol, current: JournalCheckpoint | None, cutoff: datetime) -> bool:
    commands = EngineCommand.objects.filter(symbol=symbol, processed_at__isnull=False, processed_at__lte=cutoff)
    if current is not None:
        commands = commands.filter(processed_at__gt=current.through)
    return commands.exists()


def _columns() -> str:
    return ", ".join(f.column for f in ArchivedCommand._meta.concrete_fields)


MOVE = """
WITH moved AS (
    DELETE FROM {hot} WHERE id IN (
        SELECT id FROM {hot}
        WHERE symbol_id = %s AND processed_at IS NOT NULL AND processed_at <= %s
        ORDER BY processed_at, id LIMIT %s
    )
    RETURNING {columns}
)
INSERT INTO {archive} ({columns}) SELECT {columns} FROM moved
"""


def move_commands(symbol: Symbol, through: datetime, *, chunk: int, on_chunk=None) -> int:
    """Move the symbol's commands processed up to `through`, `chunk` rows
    per statement (each its own transaction). Returns how many moved."""
    sql = MOVE.format(hot=EngineCommand._meta.db_table, archive=ArchivedCommand._meta.db_table, columns=_columns())
    total = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(sql, [symbol.id, through, chunk])
            moved = cursor.rowcount
        total += moved
        if moved:
            if on_chunk is not None:
                on_chunk(symbol.name, moved)
        if moved < chunk:
            return total


class _archiver_lock:
    def __enter__(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
            if not cursor.fetchone()[0]:
                raise ArchiveBusy("another archive run holds the lock")

    def __exit__(self, *exc) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
