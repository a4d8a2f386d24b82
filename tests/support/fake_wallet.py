"""A small stand-in for the external wallet service, run as a real process
(from the repository's root):

    python -m tests.support.fake_wallet --port 8123 [--state-file wallet.json] [--delay 0.2]

POST /settlements records the JSON body under its Idempotency-Key header: the
first time it answers 201, a repeat answers 200 with "duplicate": true and is
counted. GET /settlements lists what was recorded and the duplicate count;
GET /health answers {"status": "ok"}. With --state-file every change is
written (atomically) to that JSON file and read back at start, so the service
can be killed with -9 and restarted without forgetting what it recorded.
--delay holds each POST answer that long after recording it, which widens the
window between "the wallet has it" and "settlement committed" for tests.

`FakeWalletProcess` starts, kills and restarts it from tests.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Where FakeWalletProcess starts the child, so that `-m tests.support.fake_wallet` resolves.
REPO = Path(__file__).resolve().parents[2]


class WalletState:
    def __init__(self, state_file: Path | None) -> None:
        self.state_file = state_file
        self.lock = threading.Lock()
        self.settlements: dict[str, dict] = {}
        self.duplicates = 0
        if state_file is not None and state_file.exists():
            saved = json.loads(state_file.read_text())
            self.settlements, self.duplicates = saved["settlements"], saved["duplicates"]

    def record(self, key: str, body: dict) -> bool:
        """True if the key is new, False if it was already recorded."""
        with self.lock:
            new = key not in self.settlements
            if new:
                self.settlements[key] = body
            else:
                self.duplicates += 1
            self._save()
            return new

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "settlements": [{"key": key, "body": body} for key, body in self.settlements.items()],
                "count": len(self.settlements),
                "duplicates": self.duplicates,
            }

    def _save(self) -> None:
        if self.state_file is None:
            return
        partial = self.state_file.with_suffix(".partial")
        partial.write_text(json.dumps({"settlements": self.settlements, "duplicates": self.duplicates}))
        os.replace(partial, self.state_file)


def make_handler(state: WalletState, delay: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path == "/health":
                self._answer(200, {"status": "ok"})
            elif self.path == "/settlements":
                self._answer(200, state.snapshot())
            else:
                self._answer(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path != "/settlements":
                return self._answer(404, {"error": "not found"})
            key = self.headers.get("Idempotency-Key")
            if not key:
                return self._answer(400, {"error": "Idempotency-Key header required"})
            try:
                body = json.loads(raw)
            except ValueError:
                return self._answer(400, {"error": "body must be JSON"})
            new = state.record(key, body)
            if delay:
                time.sleep(delay)
            self._answer(201 if new else 200, {"key": key, "duplicate": not new})

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:
            sys.stderr.write(f"fake_wallet {self.address_string()} {format % args}\n")

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-file", type=Path)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to hold each POST answer")
    args = parser.parse_args(argv)
    state = WalletState(args.state_file)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(state, args.delay))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"fake wallet listening on {args.host}:{args.port}", flush=True)
    server.serve_forever()


class FakeWalletProcess:
    """The fake wallet as a child process on a fixed port, for tests."""

    def __init__(self, port: int, state_file: Path, log_file: Path, delay: float = 0.0) -> None:
        self.port, self.state_file, self.log_file, self.delay = port, state_file, log_file, delay
        self.url = f"http://127.0.0.1:{port}"
        self.popen: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> "FakeWalletProcess":
        import requests

        argv = [sys.executable, "-m", "tests.support.fake_wallet", "--port", str(self.port),
                "--state-file", str(self.state_file), "--delay", str(self.delay)]
        with open(self.log_file, "ab") as log:
            self.popen = subprocess.Popen(
                argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.popen.poll() is not None:
                raise RuntimeError(f"fake wallet exited with {self.popen.returncode}; see {self.log_file}")
            try:
                if requests.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() >= deadline:
                raise RuntimeError(f"fake wallet not answering after {timeout}s; see {self.log_file}")
            time.sleep(0.05)

    def kill(self) -> None:
        """kill -9, and reap it."""
        if self.alive():
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def recorded(self) -> dict:
        import requests

        return requests.get(f"{self.url}/settlements", timeout=5).json()


if __name__ == "__main__":
    main()
