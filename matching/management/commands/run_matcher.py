"""The long-running matcher process.

One process owns each symbol: a PostgreSQL advisory lock per symbol, held on
a dedicated connection for the life of the process, makes a second matcher
wait as a standby until the owner dies. SIGTERM/SIGINT finish the current
batch and exit.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import time

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections, connection

from matching.host import GC_THRESHOLDS, Matcher
from matching.services import NOTIFY_CHANNEL
from riskadmin.models import Symbol

log = logging.getLogger("matching.matcher")

ADVISORY_NAMESPACE = 7_340_001  # first key of the two-int advisory lock
HEARTBEAT_SECONDS = 1.0


class Command(BaseCommand):
    help = "Run the matching engine for some or all symbols."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--symbols", default="", help='Comma-separated, e.g. "BTC/USDT,ETH/USDT" (default: all).')
        parser.add_argument("--batch-size", type=int, default=settings.MATCHER_BATCH_SIZE)
        parser.add_argument("--until-idle", action="store_true", help="Exit once no command is waiting.")

    def handle(self, *args, symbols: str, batch_size: int, until_idle: bool, **options) -> None:
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        symbol_ids = self._symbol_ids(symbols)
        owner = f"{socket.gethostname()}:{os.getpid()}"
        self.symbol_ids = symbol_ids
        self.listener = self._connect_listener()
        self._acquire_ownership(self.listener, symbol_ids)
        if self.stopping:
            return
        gc.set_threshold(*GC_THRESHOLDS)
        matcher = Matcher(symbol_ids, batch_size=batch_size, owner=owner, freeze_after_load=True)
        matcher.load()
        self.stdout.write(f"matcher {owner} owns {len(symbol_ids)} symbol(s)")
        self._loop(matcher, until_idle)
        self.listener.close()

    def _stop(self, signum, frame) -> None:
        self.stopping = True

    def _symbol_ids(self, symbols: str) -> list[int]:
        queryset = Symbol.objects.all()
        if symbols:
            names = [s.strip().upper().replace("-", "/") for s in symbols.split(",") if s.strip()]
            queryset = queryset.filter(name__in=names)
        ids = sorted(queryset.values_list("id", flat=True))
        if not ids:
            raise CommandError("no symbols to match; run `manage.py seed_demo` or add symbols first")
        return ids

    def _connect_listener(self) -> psycopg.Connection:
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        listener = psycopg.connect(autocommit=True, **params)
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        return listener

    def _acquire_ownership(self, listener: psycopg.Connection, symbol_ids: list[int]) -> None:
        """Take every symbol's advisory lock, waiting as a standby if needed."""
        waiting_logged = False
        for symbol_id in symbol_ids:
            while not self.stopping:
                row = listener.execute("SELECT pg_try_advisory_lock(%s, %s)", (ADVISORY_NAMESPACE, symbol_id)).fetchone()
                if row[0]:
                    break
                if not waiting_logged:
                    log.info("symbol %s is owned by another matcher; standing by", symbol_id)
                    waiting_logged = True
                time.sleep(0.5)

    def _reconnect_listener(self, matcher: Matcher) -> bool:
        """The listener's connection was lost, and the advisory locks with it:
        connect again and take the locks back (as a standby if another matcher
        took them meanwhile), then rebuild the books, which that matcher may
        have moved on. False when asked to stop first."""
        try:
            self.listener.close()
        except psycopg.Error:
            pass
        while not self.stopping:
            listener = None
            try:
                listener = self._connect_listener()
                self._acquire_ownership(listener, self.symbol_ids)
            except psycopg.Error as exc:
                log.warning("could not reconnect the listener, retrying: %s", exc)
                if listener is not None:
                    listener.close()
                time.sleep(0.5)
                continue
            self.listener = listener
            if self.stopping:
                return False
            matcher.stale = True
            log.info("listener reconnected; the symbols are owned again")
            return True
        return False

    def _loop(self, matcher: Matcher, until_idle: bool) -> None:
        last_heartbeat = 0.0
        while not self.stopping:
            if (self.listener.closed or self.listener.broken) and not self._reconnect_listener(matcher):
                return
            try:
                result = matcher.process_batch()
                if time.monotonic() - last_heartbeat >= HEARTBEAT_SECONDS:
                    matcher.heartbeat()
                    last_heartbeat = time.monotonic()
            except DatabaseError as exc:
                log.warning("database error, retrying: %s", exc)
                close_old_connections()
                time.sleep(0.5)
                continue
            if len(result):
                continue  # more may be waiting: drain before sleeping
            if until_idle:
                return
            try:
                self._wait_for_ring(self.listener)
            except psycopg.Error as exc:  # the next turn reconnects it
                log.warning("lost the listener connection and the symbols' locks: %s", exc)

    def _wait_for_ring(self, listener: psycopg.Connection) -> None:
        """Sleep until a command is journalled, or the idle poll interval passes.

        The poll is a safety net; the ring is what keeps latency low.
        """
        for _ in listener.notifies(timeout=settings.MATCHER_IDLE_POLL_SECONDS, stop_after=1):
            pass
