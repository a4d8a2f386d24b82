"""WebSocket connection statistics of this server process, reported to Redis.

Each daphne process keeps its counters in memory and writes them to a hash
of its own every few seconds; the hash expires if the process dies, so the
sum over live hashes (`selectors.websocket_connection_stats`) stays right
across crashes and restarts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import Counter

import redis
from django.conf import settings

from core.redis import get_redis

from . import keys

log = logging.getLogger(__name__)


class ConnectionStats:
    def __init__(self) -> None:
        self.process = f"{socket.gethostname()}:{os.getpid()}"
        self.connections = 0
        self.subscriptions: Counter[str] = Counter()
        self.messages_sent = 0
        self.messages_dropped = 0
        self.slow_consumers_closed = 0
        self._last_flush = 0.0
        self._flushing = False

    def subscribed(self, name: str) -> None:
        self.subscriptions[name] += 1

    def unsubscribed(self, name: str) -> None:
        self.subscriptions[name] -= 1
        if self.subscriptions[name] <= 0:
            del self.subscriptions[name]

    def as_fields(self) -> dict[str, int]:
        return {
            "connections": self.connections,
            "messages_sent": self.messages_sent,
            "messages_dropped": self.messages_dropped,
            "slow_consumers_closed": self.slow_consumers_closed,
            **{f"sub:{name}": count for name, count in self.subscriptions.items()},
        }

    async def maybe_flush(self, *, force: bool = False) -> None:
        """Write to Redis if the flush interval passed (or `force`); never raises."""
        now = time.monotonic()
        if self._flushing or (not force and now - self._last_flush < settings.WS_STATS_FLUSH_SECONDS):
            return
        self._flushing, self._last_flush = True, now
        try:
            await asyncio.to_thread(self._write, self.as_fields())
        except redis.RedisError as exc:
            log.warning("could not report WebSocket statistics: %s", exc)
        finally:
            self._flushing = False

    def _write(self, fields: dict[str, int]) -> None:
        key = keys.ws_stats_prefix() + self.process
        ttl = max(10, int(settings.WS_STATS_FLUSH_SECONDS * 5))
        pipe = get_redis().pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping=fields)
        pipe.expire(key, ttl)
        pipe.execute()


stats = ConnectionStats()
