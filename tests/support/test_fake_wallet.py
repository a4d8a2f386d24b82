"""The fake wallet's HTTP contract, served in-process on a free port.

Other tests drive it as a child process; here its idempotency and persistence
rules are checked directly.
"""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer

import pytest
import requests

from tests.support.fake_wallet import WalletState, make_handler


@pytest.fixture
def serve():
    servers = []

    def start(state: WalletState, delay: float = 0.0) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state, delay))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_health_and_unknown_paths(serve):
    url = serve(WalletState(None))
    assert requests.get(f"{url}/health", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{url}/nope", timeout=5).status_code == 404
    assert requests.post(f"{url}/nope", json={}, timeout=5).status_code == 404


def test_a_repeated_key_is_recorded_once_and_counted_as_duplicate(serve):
    url = serve(WalletState(None), delay=0.01)
    first = requests.post(f"{url}/settlements", json={"trade": 1}, headers={"Idempotency-Key": "k1"}, timeout=5)
    again = requests.post(f"{url}/settlements", json={"trade": 1}, headers={"Idempotency-Key": "k1"}, timeout=5)
    assert (first.status_code, first.json()) == (201, {"key": "k1", "duplicate": False})
    assert (again.status_code, again.json()) == (200, {"key": "k1", "duplicate": True})
    assert requests.get(f"{url}/settlements", timeout=5).json() == {
        "settlements": [{"key": "k1", "body": {"trade": 1}}],
        "count": 1,
        "duplicates": 1,
    }


def test_a_post_without_key_or_json_is_refused_and_not_recorded(serve):
    state = WalletState(None)
    url = serve(state)
    no_key = requests.post(f"{url}/settlements", json={"trade": 1}, timeout=5)
    not_json = requests.post(f"{url}/settlements", data=b"{oops", headers={"Idempotency-Key": "k2"}, timeout=5)
    assert (no_key.status_code, no_key.json()["error"]) == (400, "Idempotency-Key header required")
    assert (not_json.status_code, not_json.json()["error"]) == (400, "body must be JSON")
    assert state.snapshot()["count"] == 0


def test_the_state_file_survives_a_restart(tmp_path):
    path = tmp_path / "wallet.json"
    state = WalletState(path)
    assert state.record("a", {"n": 1}) is True
    assert state.record("a", {"n": 1}) is False
    assert json.loads(path.read_text()) == {"settlements": {"a": {"n": 1}}, "duplicates": 1}
    assert not path.with_suffix(".partial").exists()

    restarted = WalletState(path)
    assert restarted.record("a", {"n": 1}) is False
    assert restarted.snapshot() == {"settlements": [{"key": "a", "body": {"n": 1}}], "count": 1, "duplicates": 2}
