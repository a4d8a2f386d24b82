"""Fault-injection tests reuse the end-to-end harness: a private database and
real daphne, matcher and Celery worker processes (see tests/e2e/conftest.py).
Each fault is bounded in time, and every wait has a deadline."""

from __future__ import annotations

import subprocess

import pytest
import redis

from tests.e2e.conftest import (  # noqa: F401  (fixtures and the log-tail hook)
    bare_stack,
    e2e_db,
    free_port,
    pytest_runtest_makereport,
    run_web_stack,
    stack,
    stack_env,
)
from tests.support.polling import wait_until


class PrivateRedis:
    """A redis-server of the test's own, which it may kill -9 and restart on
    the same port; nothing else uses it."""

    def __init__(self, log_dir) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = log_dir / "redis.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> "PrivateRedis":
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--daemonize", "no"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)

        def answers() -> bool:
            assert self.popen.poll() is None, f"redis-server exited:\n{self.log.read_text(errors='replace')}"
            try:
                return client.ping()
            except redis.RedisError:
                return False

        wait_until(answers, timeout=10, what="redis-server to answer PING")
        return self

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    log_dir = tmp_path / "logs"
    log_dir.mkdir(exist_ok=True)
    server = PrivateRedis(log_dir).start()
    yield server
    server.kill()
