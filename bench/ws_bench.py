"""WebSocket delivery benchmark: N clients subscribed to trades:BTC-USDT, a
trade generator over HTTP, and the latency from a trade's commit (its
executed_at) to each client's receipt.

    python bench/ws_bench.py --clients 1000 --rate 20 --seconds 20
    python bench/ws_bench.py --url http://127.0.0.1:8000 ...   # a running exchange (demo users)

Without --url it starts its own exchange (daphne, matcher, Celery worker) on
a throwaway database, with the end-to-end test helpers. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import requests
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHANNEL = "trades:BTC-USDT"


def start_exchange(log_dir: Path):
    from tests.e2e.conftest import PASSWORD, E2EDatabase, Stack, _admin_connect

    name = f"te_wsbench_{secrets.token_hex(4)}"
    with _admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = E2EDatabase(name, log_dir)
    db.manage("migrate", "--noinput")
    db.manage("seed_demo", "--password", PASSWORD)
    stack = Stack(db, log_dir)
    stack.start_worker()
    stack.start_daphne()
    stack.start_matcher()

    def stop():
        stack.stop_all()
        with _admin_connect() as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')

    return stack.base_url, stop


def token(base_url: str, username: str, password: str) -> str:
    response = requests.post(f"{base_url}/api/v1/auth/token", json={"username": username, "password": password}, timeout=10)
    response.raise_for_status()
    return response.json()["access"]


def generate_trades(base_url: str, password: str, rate: float, seconds: float, stop: threading.Event, counts: dict) -> None:
    """Each trade: a resting SELL from alice, then a crossing BUY from bob."""
    sessions = {}
    for name in ("alice", "bob"):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token(base_url, name, password)}"
        sessions[name] = session
    started = time.monotonic()
    n = 0
    while not stop.is_set() and time.monotonic() - started < seconds:
        due = started + n / rate
        if (delay := due - time.monotonic()) > 0:
            time.sleep(delay)
        body = {"symbol": "BTC/USDT", "type": "LIMIT", "quantity": "0.001", "price": "50000.00"}
        sessions["alice"].post(f"{base_url}/api/v1/orders", json={**body, "side": "SELL"}, timeout=30)
        answer = sessions["bob"].post(f"{base_url}/api/v1/orders", json={**body, "side": "BUY"}, timeout=30)
        if answer.status_code in (201, 202):
            counts["trades"] += 1
        n += 1


async def client(ws_url: str, latencies: list, ready: asyncio.Event, stats: dict, done: asyncio.Event) -> None:
    async with websockets.connect(ws_url, open_timeout=60, max_queue=None) as ws:
        await ws.send(json.dumps({"op": "subscribe", "channels": [CHANNEL]}))
        stats["connected"] += 1
        if stats["connected"] == stats["clients"]:
            ready.set()
        while not done.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 1.0)
            except asyncio.TimeoutError:
                continue
            received = time.time()
            message = json.loads(raw)
            if message.get("type") == "ping":
                await ws.send(json.dumps({"op": "pong"}))
            elif message.get("channel") == CHANNEL and message.get("type") == "update":
                for trade in message["data"]:
                    executed = datetime.fromisoformat(trade["executed_at"].replace("Z", "+00:00")).timestamp()
                    latencies.append(received - executed)


async def run(base_url: str, args) -> dict:
    ws_url = base_url.replace("http", "ws", 1) + "/ws"
    latencies: list[float] = []
    stats = {"connected": 0, "clients": args.clients}
    ready, done = asyncio.Event(), asyncio.Event()
    tasks = []
    for i in range(args.clients):
        tasks.append(asyncio.create_task(client(ws_url, latencies, ready, stats, done)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # don't stampede the accept queue
    await asyncio.wait_for(ready.wait(), 120)
    await asyncio.sleep(1)  # subscriptions settle
    counts = {"trades": 0}
    stop = threading.Event()
    generator = asyncio.to_thread(generate_trades, base_url, args.password, args.rate, args.seconds, stop, counts)
    await generator
    await asyncio.sleep(3)  # let the last messages arrive
    done.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    return {
        "clients": args.clients,
        "trades": counts["trades"],
        "deliveries": len(ordered),
        "expected_deliveries": counts["trades"] * args.clients,
        "p50_ms": round(pct(0.50), 1),
        "p99_ms": round(pct(0.99), 1),
        "max_ms": round(ordered[-1] * 1000, 1) if ordered else None,
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1) if ordered else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="trades per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--url", default="", help="base URL of a running exchange (default: start one)")
    parser.add_argument("--password", default="demo-pass-123", help="password of the demo users alice and bob")
    args = parser.parse_args()
    stop = None
    base_url = args.url.rstrip("/")
    if not base_url:
        base_url, stop = start_exchange(Path(tempfile.mkdtemp(prefix="ws-bench-")))
    try:
        result = asyncio.run(run(base_url, args))
    finally:
        if stop is not None:
            stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
