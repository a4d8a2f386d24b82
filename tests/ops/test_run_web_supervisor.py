"""run_web's supervisor, with small stand-in servers instead of daphne: each
child serves the socket it was handed, a dead child is replaced on the same
socket, a crash loop ends the command. (tests/e2e/test_run_web.py runs the
real command with daphne.)"""

from __future__ import annotations

import os
import socket
import sys
import threading

import pytest
from django.core.management.base import CommandError

from tests.support.polling import wait_until
from tradeengine.management.commands import run_web

# Answers every connection with its pid, on the listening socket it was given.
PID_SERVER = """
import os, socket, sys
listener = socket.socket(fileno=int(sys.argv[1]))
while True:
    conn, _ = listener.accept()
    conn.sendall(str(os.getpid()).encode())
    conn.close()
"""


def pid_server(fd: int) -> list[str]:
    return [sys.executable, "-c", PID_SERVER, str(fd)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answering_pids(port: int, connections: int) -> set[int]:
    pids = set()
    for _ in range(connections):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            pids.add(int(conn.recv(32)))
    return pids


@pytest.fixture
def supervised():
    port = free_port()
    listeners = [run_web._reuse_port_listener("127.0.0.1", port) for _ in range(2)]
    supervisor = run_web.Supervisor(pid_server, dict(os.environ), [listener.fileno() for listener in listeners])
    thread = threading.Thread(target=supervisor.run, kwargs={"poll_seconds": 0.05}, daemon=True)
    thread.start()
    yield port, supervisor
    supervisor.stopping = True
    thread.join(timeout=10)
    supervisor.stop_all()
    for listener in listeners:
        listener.close()


def test_every_child_serves_its_socket_and_a_dead_one_is_replaced_on_it(supervised):
    port, supervisor = supervised
    first = {child.pid for child in supervisor.children}
    assert answering_pids(port, 40) == first

    victim = supervisor.children[0]
    victim.kill()
    victim.wait()
    replaced = wait_until(lambda: {c.pid for c in supervisor.children} - first, timeout=10, interval=0.05,
                          what="a new child in place of the killed one")
    assert answering_pids(port, 40) == (first - {victim.pid}) | replaced
    assert supervisor.restarts and not supervisor.failed


def test_stopping_ends_every_child(supervised):
    _, supervisor = supervised
    children = list(supervisor.children)
    supervisor.stop_all()
    assert all(child.poll() is not None for child in children)


def test_a_crash_loop_ends_the_supervisor_with_the_reason():
    listener = run_web._reuse_port_listener("127.0.0.1", free_port())
    try:
        supervisor = run_web.Supervisor(lambda fd: [sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ),
                                        [listener.fileno()])
        supervisor.run(poll_seconds=0.01)
    finally:
        listener.close()
    assert supervisor.failed == f"web processes exited {run_web.MAX_RESTARTS_IN_WINDOW + 1} times within 60 s"


def test_a_taken_port_is_refused():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=f"cannot listen on 127.0.0.1:{port}"):
            run_web._refuse_a_taken_port("127.0.0.1", port)
