"""Writing commands for the matcher and waiting for it to apply them."""

from __future__ import annotations

import logging
import time

import redis
from django.db import connection

from core.redis import get_redis

from .models import EngineCommand

log = logging.getLogger(__name__)

# An AFTER INSERT trigger on the command table notifies this channel with the
# symbol id (migration 0002). PostgreSQL delivers NOTIFY only when the writing
# transaction commits, so the matcher is never rung for a command it cannot see.
NOTIFY_CHANNEL = "engine_commands"
DONE_KEY_TEMPLATE = "matcher:{database}:done:{command_id}"
DONE_KEY_TTL_SECONDS = 120


def _done_key(command_id: int) -> str:
    # Command ids are per database, so the key names the database too.
    return DONE_KEY_TEMPLATE.format(database=connection.settings_dict["NAME"], command_id=command_id)


def submit_command(*, order, kind: str, reason: str = "", quantity=None, price=None, stop_price=None) -> EngineCommand:
    """Journal one command for the order's symbol (see submit_commands). An
    AMEND carries the new quantity, price and stop price (Decimal, like the
    order's fields)."""
    if kind == EngineCommand.Kind.PLACE:
        return submit_commands([place_command(order)])[0]
    command = EngineCommand(
        symbol_id=order.symbol_id, kind=kind, order=order, reason=reason, quantity=quantity, price=price, stop_price=stop_price,
    )
    return submit_commands([command])[0]


def place_command(order, *, borrowed=None) -> EngineCommand:
    """A PLACE records the order as placed (replay needs it once amends change
    the row) and what of its lock the same batch's cancels are to free."""
    return EngineCommand(
        symbol_id=order.symbol_id, kind=EngineCommand.Kind.PLACE, order=order,
        quantity=order.quantity, price=order.price, stop_price=order.stop_price, borrowed=borrowed,
    )


def cancel_command(order_id: int, symbol_id: int, reason: str) -> EngineCommand:
    return EngineCommand(symbol_id=symbol_id, kind=EngineCommand.Kind.CANCEL, order_id=order_id, reason=reason)


def submit_commands(commands: list[EngineCommand]) -> list[EngineCommand]:
    """Journal commands in one INSERT; the insert trigger rings the matcher
    of each symbol on commit. Must run inside the transaction that writes
    the order changes they carry."""
    return EngineCommand.objects.bulk_create(commands) if commands else []


# One call for a whole batch: a pipelined RPUSH and EXPIRE per command cost
# the matcher more Python (packing 2 commands, parsing 2 replies each) than
# any statement of the batch.
ANNOUNCE_SCRIPT = """
for _, key in ipairs(KEYS) do
    redis.call('RPUSH', key, 1)
    redis.call('EXPIRE', key, ARGV[1])
end
return #KEYS
"""


def announce_processed(command_ids: list[int]) -> None:
    """Tell waiting API requests their commands are applied (after commit)."""
    if not command_ids:
        return
    prefix = DONE_KEY_TEMPLATE.format(database=connection.settings_dict["NAME"], command_id="")
    keys = [f"{prefix}{command_id}" for command_id in command_ids]
    try:
        get_redis().eval(ANNOUNCE_SCRIPT, len(keys), *keys, DONE_KEY_TTL_SECONDS)
    except redis.RedisError as exc:
        # Waiters fall back to reading the database; nothing is lost.
        log.warning("could not announce processed commands: %s", exc)


def wait_for_command(command_id: int, timeout: float) -> bool:
    """Block until the matcher has applied the command, at most `timeout` s.

    True if it was applied in time. Uses a Redis list the matcher pushes to;
    if Redis is unavailable it polls the command row instead.
    """
    if timeout <= 0:
        return _is_processed(command_id)
    _return_pooled_connection()
    deadline = time.monotonic() + timeout
    try:
        if get_redis().blpop([_done_key(command_id)], timeout=timeout) is not None:
            return True
        return _is_processed(command_id)
    except redis.RedisError:
        pass
    delay = 0.005
    while True:
        if _is_processed(command_id):
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.1)


def _return_pooled_connection() -> None:
    """While the request blocks on the matcher, its pooled database
    connection can serve other requests; the next query borrows one again.
    (Without a pool, closing would only cost a reconnect.)"""
    if connection.settings_dict.get("OPTIONS", {}).get("pool") and not connection.in_atomic_block:
        connection.close()


def _is_processed(command_id: int) -> bool:
    return EngineCommand.objects.filter(id=command_id, processed_at__isnull=False).exists()
