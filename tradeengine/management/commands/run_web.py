"""Serve the API and /ws from several daphne processes on one port.

One daphne is one event loop under one GIL, so it uses one core at most.
This command opens one listening socket per daphne child, all on the same
port with SO_REUSEPORT, and starts each child on its own (`daphne --fd`):
the kernel spreads new connections evenly over the sockets. (One shared
socket lets whichever process accepts first take most of a burst of
connections.) The sockets stay open here, so a restarted child finds its
waiting connections. Each public market-data stream reaches a process once and is fanned
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
from collections.abc import Callable

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
            "--pool-size", type=int, default=None,
            help="database connections per process (each request borrows one); "
                 "default WEB_DB_POOL_MAX_SIZE, else 10 (tradeengine.asgi)",
        )

    def handle(self, *args, host: str, port: int, processes: int, pool_size: int | None, **options):
        if processes < 1:
            raise CommandError("--processes must be at least 1")
        _refuse_a_taken_port(host, port)
        listeners = [_reuse_port_listener(host, port) for _ in range(processes)]
        env = {**os.environ}
        env.pop("DB_POOL_MAX_SIZE", None)  # this process's own setting: each daphne sizes its pool in tradeengine.asgi
        if pool_size is not None:
            env["WEB_DB_POOL_MAX_SIZE"] = str(pool_size)
        supervisor = Supervisor(daphne_on, env, [listener.fileno() for listener in listeners])
        signal.signal(signal.SIGTERM, supervisor.request_stop)
        signal.signal(signal.SIGINT, supervisor.request_stop)
        log.info("serving http://%s:%s with %s daphne processes", host, port, processes)
        try:
            supervisor.run()
        finally:
            supervisor.stop_all()
            for listener in listeners:
                listener.close()
        if supervisor.failed:
            raise CommandError(supervisor.failed)


def _refuse_a_taken_port(host: str, port: int) -> None:
    """SO_REUSEPORT would share a port with another server of this user
    (a second `make run`): bind once without it, to fail loudly instead."""
    try:
        socket.create_server((host, port)).close()
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _reuse_port_listener(host: str, port: int) -> socket.socket:
    listener = socket.create_server((host, port), backlog=2048, reuse_port=True)
    listener.set_inheritable(True)
    return listener


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when this command dies, even by
    kill -9, so no orphan keeps serving (and holding the port)."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def daphne_on(fd: int) -> list[str]:
    return [sys.executable, "-m", "daphne", "--fd", str(fd), ASGI_APP]


class Supervisor:
    """One child per listening socket (`command(fd)` is its argv), restarted
    on its socket if it dies."""

    def __init__(self, command: Callable[[int], list[str]], env: dict, fds: list[int]) -> None:
        self.command, self.env, self.fds = command, env, fds
        self.children: list[subprocess.Popen] = [self._spawn(fd) for fd in fds]
        self.restarts: list[float] = []
        self.stopping = False
        self.failed = ""

    def _spawn(self, fd: int) -> subprocess.Popen:
        child = subprocess.Popen(self.command(fd), env=self.env, pass_fds=(fd,), preexec_fn=_die_with_parent)
        log.info("web process started (pid %s)", child.pid)
        return child

    def request_stop(self, signum, frame) -> None:
        self.stopping = True

    def run(self, poll_seconds: float = 0.2) -> None:
        while not self.stopping:
            for index, child in enumerate(self.children):
                if child.poll() is None:
                    continue
                log.warning("web process (pid %s) exited with %s; starting another", child.pid, child.returncode)
                now = time.monotonic()
                self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_SECONDS] + [now]
                if len(self.restarts) > MAX_RESTARTS_IN_WINDOW:
                    self.failed = f"web processes exited {len(self.restarts)} times within {RESTART_WINDOW_SECONDS} s"
                    return
                self.children[index] = self._spawn(self.fds[index])
            time.sleep(poll_seconds)

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
