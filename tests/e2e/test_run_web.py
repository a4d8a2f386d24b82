"""`manage.py run_web`: several daphne processes on one port, each with its
own connection pool, kept alive by the command and stopped with it."""

from __future__ import annotations

import os
import signal
import socket

import psutil
import pytest
import requests
import websockets.sync.client as ws_client

from tests.support.polling import wait_until

pytestmark = pytest.mark.e2e

BUY = {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001", "price": "10000.00"}


def daphnes(web) -> list[psutil.Process]:
    return psutil.Process(web.pid).children()


def place_orders(stack, headers: dict, count: int) -> list[int]:
    # A new connection per request: the kernel spreads them over the processes.
    return [requests.post(f"{stack.base_url}/api/v1/orders", json=BUY, headers=headers, timeout=30).status_code
            for _ in range(count)]


@pytest.fixture
def web_stack(e2e_db, tmp_path):
    from .conftest import Stack

    log_dir = tmp_path / "logs"
    log_dir.mkdir(exist_ok=True)
    stack = Stack(e2e_db, log_dir)
    try:
        stack.start_worker()
        stack.start_web(processes=2)
        stack.start_matcher()
        yield stack
    finally:
        stack.stop_all()


def test_two_processes_serve_orders_and_websockets_and_a_killed_one_is_replaced(web_stack):
    web = web_stack.processes["web"]
    first = daphnes(web)
    assert len(first) == 2
    headers = {"Authorization": f"Bearer {web_stack.token('alice')}"}
    assert place_orders(web_stack, headers, 20) == [201] * 20

    os.kill(first[0].pid, signal.SIGKILL)

    def replaced():
        pids = {p.pid for p in daphnes(web)}
        return pids if len(pids) == 2 and first[0].pid not in pids else None

    assert first[1].pid in wait_until(replaced, timeout=15, what="a new daphne in place of the killed one")
    wait_until(web_stack._answers_readyz, timeout=15, what="/readyz after the restart")
    assert place_orders(web_stack, headers, 10) == [201] * 10

    with ws_client.connect(f"ws://127.0.0.1:{web_stack.port}/ws", open_timeout=10) as ws:
        ws.send('{"op": "ping"}')
        assert "pong" in ws.recv(timeout=10)


def test_sigterm_stops_every_process_and_frees_the_port(web_stack):
    web = web_stack.processes["web"]
    children = daphnes(web)
    web.popen.send_signal(signal.SIGTERM)
    assert web.popen.wait(timeout=20) == 0
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", int(web_stack.port)))


def test_killing_the_command_takes_its_processes_with_it(web_stack):
    web = web_stack.processes["web"]
    children = daphnes(web)
    os.kill(web.pid, signal.SIGKILL)
    web.popen.wait(timeout=10)
    gone, alive = psutil.wait_procs(children, timeout=15)
    assert alive == []


def test_connections_spread_over_the_processes(web_stack):
    web = web_stack.processes["web"]
    children = daphnes(web)
    sessions = [requests.Session() for _ in range(40)]
    try:
        for session in sessions:  # each keeps its connection open
            assert session.get(f"{web_stack.base_url}/healthz", timeout=10).status_code == 200
        port = int(web_stack.port)
        held = [sum(1 for c in child.net_connections(kind="tcp") if c.laddr.port == port and c.status == "ESTABLISHED")
                for child in children]
    finally:
        for session in sessions:
            session.close()
    assert sum(held) == 40
    assert min(held) >= 8, held  # an even spread, not one process taking the burst


def test_a_second_server_on_the_same_port_is_refused(web_stack):
    import subprocess
    import sys

    from .conftest import REPO

    result = subprocess.run(
        [sys.executable, "manage.py", "run_web", "--port", str(web_stack.port), "--processes", "1"],
        cwd=REPO, env=web_stack.db.env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{web_stack.port}" in result.stderr
