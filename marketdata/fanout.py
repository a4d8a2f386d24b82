"""In-process fan-out of the public market-data streams.

The publisher sends each public stream message once, as a Redis PUBLISH on
`md:<database>:<stream>` (e.g. `md:exchange:trades:BTC-USDT`). Each daphne
process runs one subscriber task (started by the first WebSocket connection
of its event loop) on the pattern `md:<database>:*`; it serialises each
message into the wire frame once (JSON text, and the WebSocket frame bytes
when a consumer writes to its socket directly, see `wire`) and hands that one
`Outgoing` to the local consumers subscribed to the stream. Handing it over
never blocks: a consumer that cannot keep up is closed (see
`MarketDataConsumer`), so one slow client costs nobody else.

If Redis drops, the subscriber reconnects with backoff; messages published
meanwhile are lost, which depth clients see as a gap in the sequence (they
resync as after any gap).

The subscriber ends when its task is cancelled: by `Fanout.stop`, or by the
event loop shutting down (asyncio.run, and so asgiref's async_to_sync,
cancels every task once and waits for all of them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections import defaultdict
from typing import Protocol

import redis
import redis.asyncio as aioredis
from django.conf import settings

from . import keys
from .wire import text_frame

log = logging.getLogger(__name__)

BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0
STOP_SECONDS = 5.0


class Outgoing:
    """One server message, serialised once however many clients get it.

    stream: the public stream it updates (None for replies and snapshots);
    last: a depth update's last sequence (None otherwise); ts: when the
    publisher rendered it (0 for replies).
    """

    __slots__ = ("stream", "last", "ts", "text", "_frame")

    def __init__(self, text: str, stream: str | None = None, last: int | None = None, ts: float = 0.0) -> None:
        self.text = text
        self.stream = stream
        self.last = last
        self.ts = ts
        self._frame: bytes | None = None

    @property
    def frame(self) -> bytes:
        """The WebSocket text frame, built on first use."""
        if self._frame is None:
            self._frame = text_frame(self.text.encode())
        return self._frame


class Receiver(Protocol):
    def deliver(self, message: Outgoing) -> None: ...


def update_of(message: dict) -> Outgoing:
    """A published message -> the update clients get."""
    stream = message["channel"]
    data = message["data"]
    last = data["last"] if stream.startswith("depth:") else None
    text = json.dumps({"channel": stream, "type": "update", "sequence": message["sequence"], "data": data})
    return Outgoing(text, stream, last, message.get("ts", 0.0))


class Fanout:
    """One per event loop (daphne runs one): a Redis subscriber and the local
    subscriptions, stream name -> receivers."""

    def __init__(self) -> None:
        self.subscribers: dict[str, set[Receiver]] = defaultdict(set)
        self.connected = asyncio.Event()
        self.messages = 0  # received from Redis
        self.reconnects = 0
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="marketdata-fanout")

    async def stop(self, timeout: float = STOP_SECONDS) -> bool:
        """Cancel the subscriber and wait for it to end; True if it ended
        within `timeout` (or was not running)."""
        task = self._task
        if task is None or task.done():
            return True
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=timeout)
        return bool(done)

    async def wait_connected(self, timeout: float) -> bool:
        """Wait until the subscriber listens, so nothing published after this
        returns is missed; False if Redis is not reachable in time."""
        self.start()
        if self.connected.is_set():
            return True
        try:
            async with asyncio.timeout(timeout):
                await self.connected.wait()
            return True
        except TimeoutError:
            return False

    def add(self, stream: str, receiver: Receiver) -> None:
        self.subscribers[stream].add(receiver)

    def discard(self, stream: str, receiver: Receiver) -> None:
        receivers = self.subscribers.get(stream)
        if receivers is not None:
            receivers.discard(receiver)
            if not receivers:
                del self.subscribers[stream]

    def dispatch(self, message: dict) -> None:
        receivers = self.subscribers.get(message.get("channel"))
        if not receivers:
            return
        outgoing = update_of(message)
        for receiver in tuple(receivers):
            receiver.deliver(outgoing)

    async def _run(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            try:
                await self._listen()
            except (redis.RedisError, OSError) as exc:
                _raise_if_cancelled()
                if self.connected.is_set():
                    backoff = BACKOFF_FIRST  # it was up: retry soon again
                self.reconnects += 1
                log.warning("market data subscriber lost Redis (%s); retrying in %.1f s", exc, backoff)
            finally:
                self.connected.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _listen(self) -> None:
        """One connection's life: subscribe, then dispatch until Redis fails
        (raises). `connected` is still set on the way out if the subscription
        had been confirmed."""
        client = aioredis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, health_check_interval=settings.WS_FANOUT_HEALTH_SECONDS,
        )
        pubsub = client.pubsub()
        try:
            await self._subscribe(pubsub)
            if self.reconnects:
                log.info("market data subscriber reconnected to Redis")
            while True:
                message = await pubsub.get_message(timeout=settings.WS_FANOUT_HEALTH_SECONDS)
                _raise_if_cancelled()
                if message is None or message["type"] != "pmessage":
                    continue
                self.messages += 1
                try:
                    self.dispatch(json.loads(message["data"]))
                except Exception:  # a bad message must not stop the stream
                    log.exception("could not dispatch a market data message")
        finally:
            await _close(pubsub, client)

    async def _subscribe(self, pubsub) -> None:
        await pubsub.psubscribe(keys.stream_channel_pattern())
        _raise_if_cancelled()
        # The confirmation: from here on every PUBLISH reaches us.
        while True:
            reply = await pubsub.get_message(timeout=5)
            _raise_if_cancelled()
            if reply is None:
                raise redis.ConnectionError("no answer to PSUBSCRIBE")
            if reply["type"] == "psubscribe":
                break
        self.connected.set()


def _raise_if_cancelled() -> None:
    """Raise CancelledError if this task was asked to stop.

    On Python 3.11, asyncio.wait_for (redis-py's socket writes use it) drops a
    cancel that arrives as the awaited write completes (CPython gh-86296,
    fixed in 3.12); the request is still counted by Task.cancelling(). The
    loop's shutdown cancels each task once, so without this check the
    subscriber would carry on listening and the shutdown would wait forever.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _close(pubsub, client) -> None:
    try:
        await pubsub.aclose()
        await client.aclose()
    except Exception:  # noqa: BLE001  (already broken)
        pass


_fanouts: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Fanout] = weakref.WeakKeyDictionary()


def get_fanout() -> Fanout:
    """This event loop's fan-out (tests run several loops in one process)."""
    loop = asyncio.get_running_loop()
    fanout = _fanouts.get(loop)
    if fanout is None:
        fanout = _fanouts[loop] = Fanout()
    return fanout
