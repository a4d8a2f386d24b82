"""Serve the API and /ws from several daphne processes on one port.

One daphne is one event loop under one GIL, so it uses one core at most.
This command opens the listening socket once and starts `--processes` daphne
children on it (`daphne --fd`); the kernel hands each new connection to one
of them. Each public market-data stream reaches a process once and is fanned
out there, so /ws clients spread over the processes as well.

A child that dies is started again (a crash loop ends the command, so the
process manager sees it); SIGTERM or SIGINT stops every child and then the
command.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

log = logging.getLogger("tradeengine.web")

RESTART_WINDOW_SECONDS = 60
MAX_RESTARTS_IN_WINDOW = 5
STOP_GRACE_SECONDS = 10
ASGI_APP = "tradeengine.asgi:application"


class Command(BaseCommand):
    help = "Run daphne in several processes sharing one listening socket."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--processes", type=int, default=settings.WEB_PROCESSES)
        parser.add_argument(
            "--pool-size", type=int, default=settings.WEB_DB_POOL_MAX_SIZE,
            help="database connections per process (each request borrows one)",
        )

    def handle(self, *args, host: str, port: int, processes: int, pool_size: int, **options):
        if processes < 1:
            raise CommandError("--processes must be at least 1")
        listener = socket.create_server((host, port), backlog=2048)
        listener.set_inheritable(True)
        env = {**os.environ, "DB_POOL_MAX_SIZE": str(pool_size)}
        argv = [sys.executable, "-m", "daphne", "--fd", str(listener.fileno()), ASGI_APP]
        supervisor = Supervisor(argv, env, listener.fileno(), processes)
        signal.signal(signal.SIGTERM, supervisor.request_stop)
        signal.signal(signal.SIGINT, supervisor.request_stop)
        log.info("serving http://%s:%s with %s daphne processes", host, port, processes)
        try:
            supervisor.run()
        finally:
            supervisor.stop_all()
            listener.close()
        if supervisor.failed:
            raise CommandError(supervisor.failed)


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when this command dies, even by
    kill -9, so no orphan keeps serving (and holding the port)."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    def __init__(self, argv: list[str], env: dict, fd: int, processes: int) -> None:
        self.argv, self.env, self.fd = argv, env, fd
        self.children: list[subprocess.Popen] = [self._spawn() for _ in range(processes)]
        self.restarts: list[float] = []
        self.stopping = False
        self.failed = ""

    def _spawn(self) -> subprocess.Popen:
        child = subprocess.Popen(self.argv, env=self.env, pass_fds=(self.fd,), preexec_fn=_die_with_parent)
        log.info("daphne started (pid %s)", child.pid)
        return child

    def request_stop(self, signum, frame) -> None:
        self.stopping = True

    def run(self) -> None:
        while not self.stopping:
            for index, child in enumerate(self.children):
                if child.poll() is None:
                    continue
                log.warning("daphne (pid %s) exited with %s; starting another", child.pid, child.returncode)
                now = time.monotonic()
                self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_SECONDS] + [now]
                if len(self.restarts) > MAX_RESTARTS_IN_WINDOW:
                    self.failed = f"daphne exited {len(self.restarts)} times within {RESTART_WINDOW_SECONDS} s"
                    return
                self.children[index] = self._spawn()
            time.sleep(0.2)

    def stop_all(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in self.children:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
