"""The WebSocket endpoint /ws: subscriptions to market-data streams and to
the caller's own orders.

Client ops: subscribe / unsubscribe {channels: [...]}, auth {token} or
{api_key, timestamp, signature} (signed over timestamp + "WS"), ping,
pong. Server messages: {channel, type: snapshot|update, sequence, data};
errors {type: error, error: {code, message}}. Public streams reach the
consumer from this process's fan-out (`fanout`), the caller's orders from a
per-user Channels group.

On a plain-TCP daphne connection every outgoing frame is written to the
socket at once, in order, with the frame bytes the fan-out built once for all
clients (`wire`); a client that leaves more than `wire.MAX_UNSENT_BYTES`
unsent is closed as a slow consumer. Elsewhere (TLS, other servers, tests)
frames go through one bounded queue per connection, drained by a writer task
into the ASGI send; a client whose queue fills up is closed the same way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

from apikeys import services as apikeys
from core.api.client import scope_client_ip
from core.errors import DomainError
from riskadmin.models import Symbol

from . import selectors
from .fanout import Outgoing, get_fanout, update_of
from .stats import stats
from .streams import ORDERS, Stream, StreamError, parse_stream, user_group
from .wire import MAX_UNSENT_BYTES, Wire

log = logging.getLogger(__name__)

CLOSE_IDLE = 4000
CLOSE_SLOW = 4008
SNAPSHOT_TRADES = 50
SNAPSHOT_CANDLES = 100
SUBSCRIBER_WAIT_SECONDS = 2.0

class MarketDataConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.streams: dict[str, Stream] = {}
        self.private_group: str | None = None  # the "orders" group joined
        self.depth_sequence: dict[str, int] = {}  # last depth sequence queued per stream
        # Public streams whose snapshot is being read: their updates wait here.
        self.pending: dict[str, list[Outgoing]] = {}
        self.outbox: asyncio.Queue[Outgoing] = asyncio.Queue(maxsize=settings.WS_MAX_BACKLOG)
        self.writing = False  # the writer task holds a frame it took from the outbox
        self.wire = Wire.of(self.base_send)
        self.user_id: int | None = None
        self.closing = False
        self.last_seen = self.last_ping = time.monotonic()
        self.fanout = get_fanout()
        self.fanout.start()
        await self.accept()
        stats.connections += 1
        self.writer = asyncio.create_task(self._write())
        self.heartbeat = asyncio.create_task(self._heartbeat())

    async def disconnect(self, code) -> None:
        heartbeat = getattr(self, "heartbeat", None)
        if heartbeat is None:
            return
        self.closing = True
        heartbeat.cancel()
        self.writer.cancel()
        stats.connections -= 1
        for name in list(self.streams):
            await self._leave(name)
        await stats.maybe_flush(force=True)

    # -- client ops -------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None) -> None:
        self.last_seen = time.monotonic()
        try:
            content = json.loads(text_data if text_data is not None else bytes_data)
        except (TypeError, ValueError):
            return await self._error("MALFORMED_REQUEST", "Messages are JSON objects.")
        op = content.get("op") if isinstance(content, dict) else None
        handler = {
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "auth": self._auth,
            "ping": self._ping,
            "pong": self._pong,
        }.get(op)
        if handler is None:
            return await self._error("MALFORMED_REQUEST", 'Unknown op; use "subscribe", "unsubscribe", "auth" or "ping".')
        await handler(content)

    async def _subscribe(self, content: dict) -> None:
        added = []
        for stream in await self._streams(content):
            if stream.name in self.streams:
                continue
            if stream.kind == ORDERS and self.user_id is None:
                await self._error("AUTH_REQUIRED", 'Send {"op": "auth", ...} (a token or an API key) before subscribing to "orders".')
                continue
            if len(self.streams) >= settings.WS_MAX_SUBSCRIPTIONS:
                await self._error("TOO_MANY_SUBSCRIPTIONS", f"At most {settings.WS_MAX_SUBSCRIPTIONS} channels per connection.")
                break
            if stream.kind != ORDERS and not await database_sync_to_async(_symbol_exists)(stream.symbol):
                await self._error("UNKNOWN_SYMBOL", f"No such symbol: {stream.symbol}.")
                continue
            # Listen first, then read the snapshot: updates wait in `pending`
            # meanwhile, and those the snapshot already covers are skipped.
            if stream.kind == ORDERS:
                self.private_group = user_group(self.user_id)
                await self.channel_layer.group_add(self.private_group, self.channel_name)
            else:
                self.pending[stream.name] = []
                self.fanout.add(stream.name, self)
            self.streams[stream.name] = stream
            stats.subscribed(stream.name)
            added.append(stream)
        if not added:
            return
        await self._send({"type": "subscribed", "channels": [s.name for s in added]})
        if any(s.kind != ORDERS for s in added) and not await self.fanout.wait_connected(SUBSCRIBER_WAIT_SECONDS):
            log.warning("market data subscriber not connected to Redis: updates start once it is")
        for stream in added:
            await self._send_snapshot(stream)

    async def _unsubscribe(self, content: dict) -> None:
        removed = []
        for stream in await self._streams(content):
            if stream.name in self.streams:
                await self._leave(stream.name)
                removed.append(stream.name)
        await self._send({"type": "unsubscribed", "channels": removed})

    async def _streams(self, content: dict) -> list[Stream]:
        names = content.get("channels")
        if not isinstance(names, list) or not names:
            await self._error("MALFORMED_REQUEST", '"channels" must be a non-empty list.')
            return []
        streams = []
        for name in names:
            try:
                streams.append(parse_stream(name))
            except StreamError as exc:
                await self._error(exc.code, exc.message)
        return streams

    async def _auth(self, content: dict) -> None:
        if "api_key" in content:
            user, refusal = await database_sync_to_async(_user_for_api_key)(content, scope_client_ip(self.scope))
            if user is None:
                return await self._error(refusal.code, refusal.message)
        else:
            user = await database_sync_to_async(_user_for_token)(content.get("token"))
            if user is None:
                return await self._error("INVALID_TOKEN", "The token is invalid or expired.")
        if self.user_id is not None and self.user_id != user.id and ORDERS in self.streams:
            await self._leave(ORDERS)  # a different user: the old user's orders stop here
        self.user_id = user.id
        await self._send({"type": "authenticated", "data": {"user_id": user.id, "username": user.get_username()}})

    async def _ping(self, content: dict) -> None:
        await self._send({"type": "pong"})

    async def _pong(self, content: dict) -> None:
        pass  # receiving it already counted as activity

    # -- relaying ---------------------------------------------------------

    def deliver(self, message: Outgoing) -> None:
        """An update of a public stream, from the fan-out (never blocks)."""
        if self.closing or message.stream not in self.streams:
            return
        pending = self.pending.get(message.stream)
        if pending is None:
            self._queue(message)
        elif len(pending) < settings.WS_MAX_BACKLOG:
            pending.append(message)
        else:
            self._too_slow("updates piled up while its snapshot was read")

    async def market_event(self, event: dict) -> None:
        """A group message from the publisher: the caller's orders."""
        if not self.closing and event["channel"] in self.streams:
            self._queue(update_of(event))

    def _queue(self, message: Outgoing) -> None:
        # Straight to the socket unless the writer task still has frames to
        # send first (it serves the connection until the wire is open).
        if self.wire is not None and not self.writing and self.outbox.empty() and self.wire.open():
            if self._due(message):
                self._write_direct(message)
            return
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self._too_slow(f"{self.outbox.qsize()} messages queued")

    def _due(self, message: Outgoing) -> bool:
        """Whether to send it now: not if the client unsubscribed since or its
        snapshot already covers it; a client this far behind is closed."""
        if self.closing:
            return False
        stream = message.stream
        if stream is None:
            return True
        if stream not in self.streams:
            return False
        if message.last is not None:
            if message.last <= self.depth_sequence.get(stream, 0):
                return False
            self.depth_sequence[stream] = message.last
        if (lag := time.time() - message.ts) > settings.WS_MAX_LAG_SECONDS:
            self._too_slow(f"{lag:.1f} s behind")
            return False
        return True

    def _write_direct(self, message: Outgoing) -> None:
        self.wire.write(message.frame)
        stats.messages_sent += 1
        if (unsent := self.wire.unsent()) > MAX_UNSENT_BYTES:
            self._too_slow(f"{unsent} bytes unsent")

    async def _write(self) -> None:
        """Send the queued frames in order (the path without a wire)."""
        while True:
            message = await self.outbox.get()
            self.writing = True
            try:
                if self.closing:
                    return
                if self._due(message):
                    await self.send(text_data=message.text)
                    stats.messages_sent += 1
            finally:
                self.writing = False

    def _too_slow(self, why: str) -> None:
        if self.closing:
            return
        self.closing = True
        backlog = self.outbox.qsize() + sum(len(p) for p in self.pending.values())
        stats.slow_consumers_closed += 1
        stats.messages_dropped += 1 + backlog
        for name, stream in self.streams.items():
            if stream.kind != ORDERS:
                self.fanout.discard(name, self)
        log.info("closing a slow WebSocket consumer: %s", why)
        self.closer = asyncio.create_task(self._close_slow())

    async def _close_slow(self) -> None:
        error = {"type": "error", "error": {"code": "SLOW_CONSUMER",
                                             "message": "The connection fell too far behind; reconnect and resubscribe."}}
        await self.send(text_data=json.dumps(error))
        stats.messages_sent += 1
        await self.close(code=CLOSE_SLOW)

    async def _send_snapshot(self, stream: Stream) -> None:
        if stream.kind == ORDERS:
            return  # updates only: the REST API has the current orders
        data, sequence = await database_sync_to_async(_snapshot)(stream)
        pending = self.pending.pop(stream.name, None)
        if pending is None or self.closing:
            return  # unsubscribed (or closed) meanwhile
        text = json.dumps({"channel": stream.name, "type": "snapshot", "sequence": sequence, "data": data})
        self._queue(Outgoing(text))
        if stream.kind == "depth":
            self.depth_sequence[stream.name] = sequence
        for item in pending:
            self._queue(item)

    async def _leave(self, name: str) -> None:
        stream = self.streams.pop(name)
        self.depth_sequence.pop(name, None)
        self.pending.pop(name, None)
        stats.unsubscribed(name)
        if stream.kind == ORDERS:
            group, self.private_group = self.private_group, None
            await self.channel_layer.group_discard(group, self.channel_name)
        else:
            self.fanout.discard(name, self)

    async def _heartbeat(self) -> None:
        """Ping an idle client; close it if it stays silent."""
        tick = min(settings.WS_PING_SECONDS, settings.WS_STATS_FLUSH_SECONDS, 5.0)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            idle = now - self.last_seen
            if idle >= settings.WS_IDLE_TIMEOUT_SECONDS:
                self.closing = True
                await self.close(code=CLOSE_IDLE)
                return
            if idle >= settings.WS_PING_SECONDS and now - self.last_ping >= settings.WS_PING_SECONDS:
                self.last_ping = now
                await self._send({"type": "ping"})
            await stats.maybe_flush()

    async def _error(self, code: str, message: str) -> None:
        await self._send({"type": "error", "error": {"code": code, "message": message}})

    async def _send(self, content: dict) -> None:
        """A reply or snapshot: queued behind what is already waiting."""
        if not self.closing:
            self._queue(Outgoing(json.dumps(content)))


def _symbol_exists(name: str) -> bool:
    return Symbol.objects.filter(name=name).exists()


def _user_for_api_key(content: dict, ip: str | None) -> tuple[object, DomainError | None]:
    """(user, None) for {"api_key", "timestamp", "signature"} signed over
    timestamp + "WS"; (None, why not) otherwise."""
    timestamp = content.get("timestamp")
    try:
        signed = apikeys.authenticate(
            api_key=content.get("api_key"),
            timestamp=timestamp,
            signature=content.get("signature"),
            payloads=[apikeys.websocket_payload(timestamp)],
            ip=ip,
        )
    except DomainError as exc:
        return None, exc
    return signed.user, None


def _user_for_token(token):
    if not isinstance(token, str):
        return None
    try:
        user_id = AccessToken(token)[api_settings.USER_ID_CLAIM]
    except (TokenError, KeyError):
        return None
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


def _snapshot(stream: Stream) -> tuple[object, int]:
    """(data, sequence) of a public stream's snapshot."""
    symbol = Symbol.objects.get(name=stream.symbol)
    if stream.kind == "depth":
        book = selectors.order_book(symbol=symbol, depth=selectors.MAX_DEPTH)
        return book, book["sequence"]
    if stream.kind == "trades":
        return selectors.recent_trades(symbol=symbol, limit=SNAPSHOT_TRADES), selectors.last_trade_sequence(symbol)
    if stream.kind == "ticker":
        return selectors.ticker(symbol=symbol), selectors.book_sequence(symbol)
    return (
        selectors.candles(symbol=symbol, interval=stream.interval, limit=SNAPSHOT_CANDLES),
        selectors.last_trade_sequence(symbol),
    )
