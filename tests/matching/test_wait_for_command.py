"""Waiting for the matcher to apply a command, with and without Redis."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from core.redis import get_redis
from matching.services import DONE_KEY_TTL_SECONDS, _done_key, announce_processed, wait_for_command
from orders.services import place_order
from tests.factories import order_request
from tests.support.matcher import process


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_down(settings):
    # The client is cached per process: rebuild it against a closed port, and
    # again against the real server afterwards.
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port()}/0"
    get_redis.cache_clear()
    yield
    get_redis.cache_clear()


@pytest.fixture
def command(symbol, alice):
    _, command = place_order(user=alice, request=order_request(symbol, "BUY", "1", "100.00"))
    # Command ids restart with each test database: drop an announcement left
    # by an earlier run under the same id.
    get_redis().delete(_done_key(command.id))
    return command


def test_a_zero_timeout_only_reads_the_journal(symbol, command):
    assert wait_for_command(command.id, 0) is False
    process(symbol)
    assert wait_for_command(command.id, 0) is True


def test_with_redis_the_announcement_wakes_the_waiter(symbol, command):
    process(symbol)  # the matcher announces what it applied
    assert wait_for_command(command.id, 2) is True


def test_an_announcement_expires_unless_someone_waits_for_it(symbol, command):
    process(symbol)
    assert get_redis().lrange(_done_key(command.id), 0, -1) == [b"1"]
    assert 0 < get_redis().ttl(_done_key(command.id)) <= DONE_KEY_TTL_SECONDS


def test_with_redis_an_unapplied_command_times_out(command):
    started = time.monotonic()
    assert wait_for_command(command.id, 0.2) is False
    assert time.monotonic() - started >= 0.2


def test_without_redis_the_waiter_polls_the_journal(symbol, command, redis_down):
    started = time.monotonic()
    assert wait_for_command(command.id, 0.3) is False
    assert time.monotonic() - started >= 0.3
    process(symbol)
    assert wait_for_command(command.id, 1) is True


def test_announcing_without_redis_logs_and_carries_on(redis_down, caplog):
    with caplog.at_level(logging.WARNING, logger="matching.services"):
        announce_processed([1, 2])
        announce_processed([])
    assert [r.getMessage() for r in caplog.records if r.name == "matching.services"][0].startswith(
        "could not announce processed commands"
    )
