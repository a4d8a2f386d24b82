"""Harness for end-to-end tests: a database of their own and real processes.

Nothing here touches pytest-django's test database. Each test gets a fresh
PostgreSQL database (migrated and seeded through manage.py), and a Stack
that starts daphne, the matcher and a Celery worker against it, each logging
to a file under the test's tmp_path. Every wait has a deadline; every process
is killed at teardown, and the logs' tails are attached to a failing test.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psutil
import psycopg
import pytest
import requests

from tests.support.polling import wait_until

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_HOST = os.environ.get("E2E_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("E2E_PG_PORT", "5432")
PG_USER = os.environ.get("E2E_PG_USER", "postgres")
REDIS_URL = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/14")
PASSWORD = "demo-pass-123"
# What seed_demo deposits: alice and bob get 1,000,000 USDT, 10 BTC, 100 ETH each.
SEEDED_TOTALS = {"USDT": Decimal("2000000"), "BTC": Decimal("20"), "ETH": Decimal("200")}
LOG_TAIL_LINES = 40

_stack_key = pytest.StashKey["Stack"]()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _admin_connect() -> psycopg.Connection:
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True)


class E2EDatabase:
    """A throwaway database and the environment that points processes at it."""

    def __init__(self, name: str, log_dir: Path) -> None:
        self.name = name
        self.log_dir = log_dir
        self.url = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tradeengine.settings",
            "DATABASE_URL": self.url,
            "REDIS_URL": REDIS_URL,
            "ORDER_RESULT_TIMEOUT": "2",
            "MATCHER_IDLE_POLL_SECONDS": "0.5",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "PYTHONUNBUFFERED": "1",
            # Stacks share one Redis: each gets its own task queue, so no
            # stack's worker takes another's tasks.
            "CELERY_TASK_DEFAULT_QUEUE": f"celery.{name}",
            # Every trader of a stack comes from 127.0.0.1 and places orders
            # faster than a venue lets one trader: the limits are raised (not
            # off, so each request still goes through the limiter).
            "RATE_LIMIT_IP": "1000000/min",
            "RATE_LIMIT_USER": "1000000/min",
            "RATE_LIMIT_ORDERS": "100000/10s",
            "RATE_LIMIT_ORDERS_DAY": "100000000/day",
        }
        self.env.pop("CELERY_BROKER_URL", None)  # the broker follows REDIS_URL
        # Each process decides whether it pools (daphne and run_web do); the
        # test process may have picked the ASGI default up by importing it.
        self.env.pop("DB_POOL_MAX_SIZE", None)

    def query(self, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=self.name, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def scalar(self, sql: str, params=()):
        return self.query(sql, params)[0][0]

    def manage(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result


@pytest.fixture
def e2e_db(tmp_path):
    name = f"te_e2e_{secrets.token_hex(6)}"
    with _admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        db = E2EDatabase(name, tmp_path)
        db.manage("migrate", "--noinput")
        db.manage("seed_demo", "--password", PASSWORD)
        yield db
    finally:
        with _admin_connect() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None


class Stack:
    """daphne, the matcher and a Celery worker for one E2EDatabase."""

    def __init__(self, db: E2EDatabase, log_dir: Path) -> None:
        self.db = db
        self.log_dir = log_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, Process] = {}
        self.started: list[Process] = []  # every process ever started, for teardown and logs

    # -- processes --------------------------------------------------------

    def _start(self, name: str, argv: list[str]) -> Process:
        log = self.log_dir / f"{name}-{len(self.started)}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                [str(a) for a in argv], cwd=REPO, env=self.db.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        process = Process(name, popen, log)
        self.processes[name] = process
        self.started.append(process)
        return process

    def _wait_ready(self, process: Process, predicate, what: str, timeout: float = 30) -> None:
        def ready():
            if not process.alive():
                raise AssertionError(f"{process.name} exited with {process.popen.returncode}\n{tail(process.log)}")
            return predicate()

        wait_until(ready, timeout=timeout, what=what, interval=0.1, on_timeout=lambda: tail(process.log))

    def start_daphne(self) -> Process:
        process = self._start(
            "daphne", [BIN / "daphne", "-b", "127.0.0.1", "-p", self.port, "tradeengine.asgi:application"]
        )

        self._wait_ready(process, self._answers_readyz, "daphne /readyz")
        return process

    def start_web(self, processes: int = 2) -> Process:
        """`manage.py run_web`: several daphne processes on this stack's port."""
        process = self._start(
            "web", [sys.executable, "manage.py", "run_web", "--port", self.port, "--processes", str(processes)]
        )
        self._wait_ready(process, self._answers_readyz, "run_web /readyz")
        return process

    def _answers_readyz(self) -> bool:
        try:
            return requests.get(f"{self.base_url}/readyz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def start_matcher(self, name: str = "matcher", *, symbols: list[str] | None = None, standby: bool = False) -> Process:
        """`manage.py run_matcher`, for all symbols or only `symbols`.

        Ready once it heartbeats for each of its symbols, or, with standby,
        once it says it waits for another matcher's locks.
        """
        argv = [sys.executable, "manage.py", "run_matcher"]
        if symbols:
            argv += ["--symbols", ",".join(symbols)]
        process = self._start(name, argv)
        if standby:
            self._wait_ready(process, lambda: "standing by" in process.log.read_text(errors="replace"), "the standby")
            return process
        expected = len(symbols) if symbols else self.db.scalar("SELECT count(*) FROM riskadmin_symbol")

        def heartbeating() -> bool:
            owned = self.db.scalar(
                "SELECT count(*) FROM matching_matcherstate WHERE owner LIKE %s AND heartbeat_at IS NOT NULL",
                (f"%:{process.pid}",),
            )
            return owned == expected

        self._wait_ready(process, heartbeating, "the matcher's heartbeat")
        return process

    def start_worker(self) -> Process:
        return self._start(
            "worker",
            [BIN / "celery", "-A", "tradeengine", "worker", "--pool=solo", "--loglevel=warning",
             "--without-gossip", "--without-mingle", "-n", f"{self.db.name}@%h"],
        )

    def web_processes(self) -> list[psutil.Process]:
        """The daphne processes `manage.py run_web` (start_web) runs."""
        return psutil.Process(self.processes["web"].pid).children()

    def kill_web_process(self, index: int = 0) -> None:
        """kill -9 one of run_web's daphne processes, and wait until run_web
        has started another in its place (on the same listening socket)."""
        web = self.processes["web"]
        before = self.web_processes()
        victim = before[index % len(before)]
        victim.kill()
        victim.wait(timeout=10)

        def replaced() -> bool:
            if not web.alive():
                raise AssertionError(f"run_web exited with {web.popen.returncode}\n{tail(web.log)}")
            pids = {p.pid for p in self.web_processes()}
            return len(pids) == len(before) and victim.pid not in pids

        wait_until(replaced, timeout=15, what="run_web to replace a killed daphne", on_timeout=lambda: tail(web.log))

    def kill(self, name: str) -> None:
        """kill -9, and reap it."""
        process = self.processes[name]
        os.kill(process.pid, signal.SIGKILL)
        process.popen.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.started:
            if process.alive():
                process.popen.terminate()
        deadline = time.monotonic() + 5
        for process in self.started:
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(f"----- {p.name} (pid {p.pid}) {p.log.name} -----\n{tail(p.log)}" for p in self.started)

    # -- the API ----------------------------------------------------------

    def token(self, username: str, password: str = PASSWORD) -> str:
        response = requests.post(
            f"{self.base_url}/api/v1/auth/token", json={"username": username, "password": password}, timeout=10
        )
        assert response.status_code == 200, response.text
        return response.json()["access"]

    # -- checks -----------------------------------------------------------

    def wait_until_quiet(self, timeout: float = 30) -> None:
        """Every journalled command processed and no order left PENDING."""
        wait_until(
            lambda: self.db.scalar(
                "SELECT (SELECT count(*) FROM matching_enginecommand WHERE processed_at IS NULL)"
                " + (SELECT count(*) FROM orders_order WHERE status = 'PENDING')"
            ) == 0,
            timeout=timeout, what="the matcher to process every command", on_timeout=self.logs,
        )

    def wait_until_settled(self, timeout: float = 60) -> None:
        wait_until(
            lambda: self.db.scalar("SELECT count(*) FROM orders_trade WHERE settlement_status <> 'SETTLED'") == 0,
            timeout=timeout, what="every trade to settle", interval=0.25, on_timeout=self.logs,
        )


@pytest.fixture
def stack_env() -> dict[str, str]:
    """Extra environment for every process of the stack; a test module
    overrides this fixture to configure them (e.g. a wallet service)."""
    return {}


@contextlib.contextmanager
def _stack_for(e2e_db, stack_env, tmp_path, request):
    """A Stack on the test's database, logging under tmp_path, known to the
    failure report (its logs), stopped whatever happens."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir(exist_ok=True)
    e2e_db.env.update(stack_env)
    stack = Stack(e2e_db, log_dir)
    request.node.stash[_stack_key] = stack
    try:
        yield stack
    finally:
        stack.stop_all()


@pytest.fixture
def bare_stack(e2e_db, stack_env, tmp_path, request):
    """daphne + Celery worker, up, and no matcher yet; killed at teardown."""
    with _stack_for(e2e_db, stack_env, tmp_path, request) as stack:
        stack.start_worker()
        stack.start_daphne()
        yield stack


@pytest.fixture
def stack(bare_stack):
    """daphne + matcher + Celery worker, all up; killed at teardown."""
    bare_stack.start_matcher()
    return bare_stack


@pytest.fixture
def run_web_stack(e2e_db, stack_env, tmp_path, request):
    """`manage.py run_web` with two daphne processes + matcher + Celery
    worker, all up; killed at teardown."""
    with _stack_for(e2e_db, stack_env, tmp_path, request) as stack:
        stack.start_worker()
        stack.start_web(processes=2)
        stack.start_matcher()
        yield stack


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    stack = item.stash.get(_stack_key, None)
    if stack is not None and report.failed and report.when in ("setup", "call"):
        report.sections.append(("process logs (tails)", stack.logs()))
