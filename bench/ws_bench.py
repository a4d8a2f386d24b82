"""WebSocket delivery benchmark: N clients subscribed to trades:BTC-USDT, a
trade generator over HTTP (a resting SELL, then crossing BUYs from several
concurrent HTTP clients), and the latency from a trade's commit (its
executed_at) to each client's receipt.

    python bench/ws_bench.py --clients 1000 --rate 20 --seconds 20
    python bench/ws_bench.py --separate-api ...   # orders through a second daphne
    python bench/ws_bench.py --url http://127.0.0.1:8000 ...   # a running exchange (demo users)

Without --url it starts its own exchange (daphne, matcher, Celery worker) on
a throwaway database, with the end-to-end test helpers and the rate limits
raised as bench/load.py raises them (the generator places more orders per
user than the shipped 100 per 10 s). Loopback only.

Then it also reports where the time goes: a probe subscribed to the trades
stream in Redis gives executed_at -> the publisher's render time ("ts" in the
published message) -> arrival from Redis, and the CPU seconds each process
used while the trades were generated (from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import redis
import requests
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHANNEL = "trades:BTC-USDT"


def start_exchange(log_dir: Path, separate_api: bool):
    from bench.load import RAISED_LIMITS
    from tests.e2e.conftest import PASSWORD, E2EDatabase, Stack, _admin_connect

    name = f"te_wsbench_{secrets.token_hex(4)}"
    with _admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = E2EDatabase(name, log_dir)
    db.env.update(RAISED_LIMITS)
    db.manage("migrate", "--noinput")
    db.manage("seed_demo", "--password", PASSWORD)
    stack = Stack(db, log_dir)
    stack.start_worker()
    stack.start_daphne()
    stack.start_matcher()
    api = stack
    if separate_api:  # a second daphne on the same database serves the orders
        api = Stack(db, log_dir)
        api.start_daphne()

    def stop():
        if api is not stack:
            api.stop_all()
        stack.stop_all()
        with _admin_connect() as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')

    pids = {f"{name} (/ws)": p.pid for name, p in stack.processes.items()}
    if api is not stack:
        pids["daphne (orders)"] = api.processes["daphne"].pid
    return stack.base_url, api.base_url, stop, name, pids


def token(base_url: str, username: str, password: str) -> str:
    response = requests.post(f"{base_url}/api/v1/auth/token", json={"username": username, "password": password}, timeout=10)
    response.raise_for_status()
    return response.json()["access"]


def generate_trades(base_url: str, password: str, rate: float, seconds: float, workers: int, counts: dict) -> None:
    """Resting liquidity first (one large SELL from alice), then small crossing
    BUYs from bob at `rate` per second, from `workers` concurrent HTTP clients:
    one order makes one trade."""
    bob_token = token(base_url, "bob", password)
    alice = requests.Session()
    alice.headers["Authorization"] = f"Bearer {token(base_url, 'alice', password)}"
    quantity = Decimal("0.001")
    total = int(rate * seconds) + 1
    body = {"symbol": "BTC/USDT", "type": "LIMIT", "price": "50000.00"}
    resting = alice.post(f"{base_url}/api/v1/orders", json={**body, "side": "SELL", "quantity": str(quantity * total)}, timeout=30)
    resting.raise_for_status()
    time.sleep(0.5)  # the SELL rests before the first BUY
    lock = threading.Lock()
    started = time.monotonic()
    next_n = [0]

    def worker() -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {bob_token}"
        while True:
            with lock:
                n = next_n[0]
                next_n[0] += 1
            due = started + n / rate
            if n >= total - 1 or due - started >= seconds:
                return
            if (delay := due - time.monotonic()) > 0:
                time.sleep(delay)
            answer = session.post(f"{base_url}/api/v1/orders", json={**body, "side": "BUY", "quantity": str(quantity)}, timeout=30)
            with lock:
                counts["orders"] += 1
                counts["accepted"] += answer.status_code in (201, 202)

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts["elapsed"] = time.monotonic() - started


async def client(ws_url: str, arrivals: list, ready: asyncio.Event, stats: dict, done: asyncio.Event) -> None:
    # No permessage-deflate offer, and frames kept as bytes: the clients share
    # the machine with the server, so they do as little as possible per frame.
    async with websockets.connect(ws_url, open_timeout=60, max_queue=None, compression=None) as ws:
        await ws.send(json.dumps({"op": "subscribe", "channels": [CHANNEL]}))
        while True:  # counted once subscribed: its snapshot came
            raw = await ws.recv(decode=False)
            if b'"snapshot"' in raw and json.loads(raw).get("type") == "snapshot":
                break
        stats["connected"] += 1
        if stats["connected"] == stats["clients"]:
            ready.set()
        while True:  # until cancelled at the end of the run
            raw = await ws.recv(decode=False)
            received = time.time()
            if b'"ping"' in raw and json.loads(raw).get("type") == "ping":
                await ws.send(json.dumps({"op": "pong"}))
            elif b'"error"' in raw and json.loads(raw).get("type") == "error":
                stats["errors"] += 1
            else:
                arrivals.append((received, raw))  # parsed after the run: the clients stay cheap


class RawClient(asyncio.Protocol):
    """A minimal WebSocket client (RFC 6455) for many connections in one
    process: it timestamps each frame when its bytes are read from the socket
    and keeps the payload for later; only control frames and the first
    replies are looked at during the run. Server frames are never masked or
    compressed (no extension is offered)."""

    def __init__(self, arrivals: list, stats: dict, ready: asyncio.Event) -> None:
        self.arrivals, self.stats, self.ready = arrivals, stats, ready
        self.buffer = b""
        self.upgraded = False
        self.subscribed = False
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        transport.write((f"GET /ws HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())

    def send_frame(self, payload: bytes, opcode: int = 0x1) -> None:
        mask = secrets.token_bytes(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert len(payload) < 126
        self.transport.write(bytes((0x80 | opcode, 0x80 | len(payload))) + mask + masked)

    def data_received(self, data: bytes) -> None:
        received = time.time()
        self.buffer += data
        if not self.upgraded:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.transport.close()
                return
            self.upgraded, self.buffer = True, rest
            self.send_frame(json.dumps({"op": "subscribe", "channels": [CHANNEL]}).encode())
        while len(self.buffer) >= 2:
            opcode, size = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
            start = 2
            if size == 126:
                if len(self.buffer) < 4:
                    return
                size, start = int.from_bytes(self.buffer[2:4], "big"), 4
            elif size == 127:
                if len(self.buffer) < 10:
                    return
                size, start = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < start + size:
                return
            payload, self.buffer = self.buffer[start:start + size], self.buffer[start + size:]
            self.frame(opcode, payload, received)

    def frame(self, opcode: int, payload: bytes, received: float) -> None:
        if opcode == 0x9:  # protocol ping: the pong echoes its payload byte for byte
            self.send_frame(payload, opcode=0xA)
        elif opcode == 0x8:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
            self.stats["closed_by_server"][code] = self.stats["closed_by_server"].get(code, 0) + 1
            self.transport.close()
        elif not self.subscribed:  # counted once subscribed: its snapshot came
            if b'"snapshot"' in payload and json.loads(payload).get("type") == "snapshot":
                self.subscribed = True
                self.stats["connected"] += 1
                if self.stats["connected"] == self.stats["clients"]:
                    self.ready.set()
        elif b'"ping"' in payload and json.loads(payload).get("type") == "ping":
            self.send_frame(json.dumps({"op": "pong"}).encode())
        elif b'"error"' in payload and json.loads(payload).get("type") == "error":
            self.stats["errors"] += 1
        else:
            self.arrivals.append((received, payload))

    def connection_lost(self, exc) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)


async def raw_client(ws_url: str, arrivals: list, ready: asyncio.Event, stats: dict, done: asyncio.Event) -> None:
    host, port = ws_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    RawClient.host = f"{host}:{port}"
    transport, protocol = await asyncio.get_running_loop().create_connection(
        lambda: RawClient(arrivals, stats, ready), host, int(port))
    try:
        await protocol.closed
        if not done.is_set():
            stats["errors"] += 1  # closed by the server during the run
    finally:
        transport.close()


class RedisProbe:
    """Subscribed to the trades stream in Redis, as a daphne process is: when
    each trades message was rendered by the publisher and when it arrived."""

    def __init__(self, database: str) -> None:
        self.channel = f"md:{database}:{CHANNEL}"
        self.rows: list[tuple[float, float, float]] = []  # (executed_at, rendered, arrived)
        self._pubsub = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")).pubsub()
        self._pubsub.subscribe(self.channel)
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        for message in self._pubsub.listen():
            arrived = time.time()
            if message["type"] != "message":
                continue
            body = json.loads(message["data"])
            for trade in body["data"]:
                self.rows.append((parse_time(trade["executed_at"]), body.get("ts", 0.0), arrived))

    def summary(self) -> dict:
        to_render = sorted(rendered - executed for executed, rendered, _ in self.rows)
        to_redis = sorted(arrived - executed for executed, _, arrived in self.rows)
        return {"trades": len(self.rows), "executed_to_render_ms": percentiles(to_render),
                "executed_to_redis_ms": percentiles(to_redis)}


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentiles(ordered: list[float]) -> dict:
    if not ordered:
        return {}

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"p50": pct(0.5), "p99": pct(0.99), "max": round(ordered[-1] * 1000, 1)}


def cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a process (and its reaped children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if "(postgres)" in stat.read_text()[:64]:
                total += cpu_seconds(int(stat.parent.name))
        except OSError:
            pass
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies over all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU seconds per process between start() and stop()."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = {"benchmark clients": os.getpid(), **pids}

    def _read(self) -> dict[str, float]:
        return {**{name: cpu_seconds(pid) for name, pid in self.pids.items()}, "postgres (all)": postgres_cpu_seconds()}

    def start(self) -> None:
        self.before, self.busy_before, self.started = self._read(), machine_busy(), time.monotonic()

    def stop(self) -> dict:
        after, busy_after, wall = self._read(), machine_busy(), time.monotonic() - self.started
        busy = busy_after[0] - self.busy_before[0]
        total = busy_after[1] - self.busy_before[1]
        used = {name: round((after[name] - self.before[name]) / wall, 2) for name in after}
        cores = os.cpu_count() or 1
        busy_cores = cores * busy / total if total else 0.0
        return {
            "seconds": round(wall, 1),
            "machine_busy_pct": round(100 * busy / total, 1) if total else None,
            "cores_used": used,
            # Whatever else ran on the machine meanwhile (kernel, Redis, other work).
            "other_cores": round(busy_cores - sum(used.values()), 2),
        }


def latencies_of(arrivals: list, seen: set) -> list[float]:
    latencies = []
    for received, raw in arrivals:
        message = json.loads(raw)
        if message.get("channel") == CHANNEL and message.get("type") == "update":
            for trade in message["data"]:
                seen.add(trade["id"])
                latencies.append(received - parse_time(trade["executed_at"]))
    return latencies


async def run(base_url: str, api_url: str, args, probe: RedisProbe | None = None, meter: CpuMeter | None = None) -> dict:
    ws_url = base_url.replace("http", "ws", 1) + "/ws"
    arrivals: list[tuple[float, str]] = []
    seen: set[int] = set()
    stats = {"connected": 0, "clients": args.clients, "errors": 0, "closed_by_server": {}}
    ready, done = asyncio.Event(), asyncio.Event()
    tasks = []
    for i in range(args.clients):
        connect = raw_client if args.client == "raw" else client
        tasks.append(asyncio.create_task(connect(ws_url, arrivals, ready, stats, done)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # don't stampede the accept queue
    await asyncio.wait_for(ready.wait(), 120)  # every client has its snapshot
    await asyncio.sleep(1)
    counts = {"orders": 0, "accepted": 0, "elapsed": 0.0}
    if meter is not None:
        meter.start()
    await asyncio.to_thread(generate_trades, api_url, args.password, args.rate, args.seconds, args.http_clients, counts)
    cpu = meter.stop() if meter is not None else None
    # Let the last messages arrive: until nothing new came for 2 s (at most 60 s).
    drain_until = time.monotonic() + 60
    while time.monotonic() < drain_until:
        count = len(arrivals)
        await asyncio.sleep(2)
        if len(arrivals) == count:
            break
    done.set()
    for task in tasks:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    results = [r for r in results if not isinstance(r, asyncio.CancelledError)]
    ordered = sorted(latencies_of(arrivals, seen))
    latency = percentiles(ordered)
    trades = len(seen)  # trades that reached at least one client
    return {
        "clients": args.clients,
        "client": args.client,
        "separate_api_daphne": args.separate_api,
        "asked_rate": args.rate,
        "orders_sent": counts["orders"],
        "orders_accepted": counts["accepted"],
        "trades": trades,
        "trade_rate": round(trades / counts["elapsed"], 1) if counts["elapsed"] else None,
        "deliveries": len(ordered),
        "expected_deliveries": trades * args.clients,
        "p50_ms": latency.get("p50"),
        "p99_ms": latency.get("p99"),
        "max_ms": latency.get("max"),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1) if ordered else None,
        "client_errors": stats["errors"] + sum(isinstance(r, BaseException) for r in results),
        "closed_by_server": stats["closed_by_server"],  # close code -> connections
        "redis_probe": probe.summary() if probe is not None else None,
        "cpu_while_trading": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=20.0, help="trades per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--http-clients", type=int, default=4, help="concurrent HTTP clients placing the orders")
    parser.add_argument("--url", default="", help="base URL of a running exchange (default: start one)")
    parser.add_argument("--api-url", default="", help="base URL for the orders (default: --url)")
    parser.add_argument("--separate-api", action="store_true",
                        help="when starting an exchange: a second daphne serves the orders, the first only /ws")
    parser.add_argument("--password", default="demo-pass-123", help="password of the demo users alice and bob")
    parser.add_argument("--client", choices=("raw", "websockets"), default="raw",
                        help="raw: a minimal frame reader per connection (cheapest); websockets: the library's client")
    parser.add_argument("--pids-file", default="", help="write the started processes' pids there (JSON)")
    args = parser.parse_args()
    stop = probe = meter = None
    base_url = args.url.rstrip("/")
    api_url = args.api_url.rstrip("/") or base_url
    if not base_url:
        base_url, api_url, stop, database, pids = start_exchange(Path(tempfile.mkdtemp(prefix="ws-bench-")), args.separate_api)
        probe, meter = RedisProbe(database), CpuMeter(pids)
        if args.pids_file:  # for attaching a profiler to the servers
            Path(args.pids_file).write_text(json.dumps(pids))
    try:
        result = asyncio.run(run(base_url, api_url, args, probe, meter))
    finally:
        if stop is not None:
            stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
