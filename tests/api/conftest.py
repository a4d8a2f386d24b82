"""A matcher polling in a background thread, as the matcher process would:
for tests of answers given after the matcher applied a command. Such tests
run outside the per-test transaction (transactional_db), so the matcher
thread sees what the request committed."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from core.redis import get_redis
from matching.host import Matcher
from matching.services import DONE_KEY_TEMPLATE


def forget_stale_announcements() -> None:
    # The test database is recreated on every run, so command ids repeat;
    # "done" keys a previous run left behind must not answer for new commands.
    pattern = DONE_KEY_TEMPLATE.format(database=connection.settings_dict["NAME"], command_id="*")
    redis = get_redis()
    for key in redis.scan_iter(match=pattern):
        redis.delete(key)


@pytest.fixture
def matcher_thread(transactional_db, symbol, settings):
    settings.ORDER_RESULT_TIMEOUT = 10  # an upper bound: the answer comes as soon as the batch commits
    forget_stale_announcements()
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            matcher = Matcher([symbol.id])
            while not stop.is_set():
                if not matcher.process_batch():
                    stop.wait(0.005)
        except BaseException as exc:  # reported by the fixture, not lost in the thread
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert not failures
