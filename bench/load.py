"""HTTP load benchmark: crossing LIMIT orders from many funded users at a
target rate, with a live one-line progress display.

    python bench/load.py --start --rate 1000 --seconds 20
    python bench/load.py --start --web-processes 2 --rate 200 --seconds 20
    python bench/load.py --url http://127.0.0.1:8000 --rate 100   # a running exchange

With --start it creates a throwaway database (migrated, seeded), starts
`manage.py run_web` (--web-processes daphne processes sharing one port, each
with its database connection pool), the matcher and a Celery worker with the
end-to-end test helpers, with the rate limits raised (RAISED_LIMITS). With --url it uses that exchange and
its database (--database-url, default $DATABASE_URL) to create the load users
and to sample the matcher backlog; start that exchange with the same
RATE_LIMIT_* variables, or the shipped limits answer most orders with 429.

The schedule is open loop: order n is due at start + n / rate; at most
--concurrency requests are in flight, so when the exchange is slower than the
rate the sends fall behind (the achieved rate shows it). Latency is from the
send to the response. 201 and 202 (accepted, matcher result not yet back)
count as ok. The matcher backlog (journalled engine commands not yet
processed) is sampled every second and at the end. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil
import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PASSWORD = "demo-pass-123"
BACKLOG_SQL = "SELECT count(*) FROM matching_enginecommand WHERE processed_at IS NULL"
# The shipped limits are a venue's (1,200 requests a minute per address, 100
# orders per 10 s per user); a load test sends far more from one address.
RAISED_LIMITS = {
    "RATE_LIMIT_IP": "10000000/min",
    "RATE_LIMIT_USER": "10000000/min",
    "RATE_LIMIT_ORDERS": "10000000/10s",
    "RATE_LIMIT_ORDERS_DAY": "1000000000/day",
}

# One statement run by `manage.py shell`: the load users, each funded through
# the same deposit service as `manage.py deposit` (idempotent by reference).
CREATE_USERS = """
from decimal import Decimal
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from settlement.balances import deposit
User = get_user_model()
hashed = make_password({password!r})
for i in range({users}):
    name = f"{prefix}{{i:03d}}"
    user, created = User.objects.get_or_create(username=name, defaults={{"password": hashed}})
    for asset, amount in {funds!r}:
        deposit(user_id=user.id, asset=asset, amount=Decimal(amount), reference=f"load:{{name}}:{{asset}}")
print("ok")
"""
FUNDS = (("USDT", "10000000"), ("BTC", "1000"))


def start_exchange(log_dir: Path, web_processes: int):
    from tests.e2e.conftest import E2EDatabase, Stack, _admin_connect

    name = f"te_loadbench_{secrets.token_hex(4)}"
    with _admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = E2EDatabase(name, log_dir)
    db.env.update(RAISED_LIMITS)
    db.env["ORDER_RESULT_TIMEOUT"] = "5"
    stacks = []

    def stop():
        for stack in reversed(stacks):
            stack.stop_all()
        with _admin_connect() as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')

    try:
        db.manage("migrate", "--noinput")
        db.manage("seed_demo", "--password", PASSWORD)
        stack = Stack(db, log_dir)
        stacks.append(stack)
        stack.start_worker()
        stack.start_web(processes=web_processes)  # manage.py run_web: daphne processes on one port
        stack.start_matcher()
        urls = [stack.base_url]
    except BaseException:
        stop()
        raise
    return db.env, db.url, urls, stacks, stop


def cpu_seconds(stacks, database_url: str) -> dict[str, float]:
    """CPU time (user + system) so far of each part of the exchange: the
    stack's processes with their children; PostgreSQL's backends of this
    database by the process they serve (application_name), the rest of
    PostgreSQL (background processes, other databases, backends that have
    exited) as "postgres (other)"; and Redis (shared with anything else
    running on the machine)."""
    totals: Counter = Counter()

    def add(role: str, process: psutil.Process, with_children: bool = True) -> None:
        try:
            times = process.cpu_times()
            totals[role] += times.user + times.system
            if with_children:  # run_web's daphnes, Celery's pool processes
                totals[role] += times.children_user + times.children_system
                for child in process.children(recursive=True):
                    child_times = child.cpu_times()
                    totals[role] += child_times.user + child_times.system
        except psutil.Error:
            pass

    for stack in stacks:
        for name, process in stack.processes.items():
            add(name, psutil.Process(process.pid))
    with psycopg.connect(database_url, autocommit=True) as conn:
        serving = dict(conn.execute(
            "SELECT pid, application_name FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall())
    for process in psutil.process_iter(["name", "ppid"]):
        name = process.info["name"]
        if name == "postgres":
            app = serving.get(process.pid)
            add(f"postgres ({app or 'other'})", process, with_children=False)
            try:
                if psutil.Process(process.info["ppid"]).name() != "postgres":  # the postmaster: backends that exited
                    times = process.cpu_times()
                    totals["postgres (other)"] += times.children_user + times.children_system
            except psutil.Error:
                pass
        elif name == "redis-server":
            add(name, process, with_children=False)
    add("load client", psutil.Process(), with_children=False)  # the stack runs as its children
    return dict(totals)


def cpu_spent(before: dict[str, float], after: dict[str, float], orders: int) -> tuple[dict, dict]:
    """CPU seconds by part of the exchange between two `cpu_seconds` marks,
    and the same in ms per order (with "all"; empty without orders)."""
    spent = {role: after[role] - before.get(role, 0.0) for role in sorted(after)}
    per_order = {}
    if orders:
        per_order = {role: round(1000 * v / orders, 2) for role, v in spent.items()}
        per_order["all"] = round(1000 * sum(spent.values()) / orders, 2)
    return {role: round(v, 2) for role, v in spent.items()}, per_order


def create_users(env: dict, users: int, prefix: str, funds=FUNDS) -> list[str]:
    """`users` users named prefix000, prefix001, ..., each given `funds`
    ((asset, amount) pairs)."""
    code = CREATE_USERS.format(password=PASSWORD, users=users, prefix=prefix, funds=tuple(funds))
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise SystemExit(f"creating the load users failed:\n{result.stdout}\n{result.stderr}")
    return [f"{prefix}{i:03d}" for i in range(users)]


def sample_backlog(database_url: str, samples: list, stop: threading.Event, interval: float = 1.0,
                   sql: str = BACKLOG_SQL) -> None:
    """Every `interval` s until `stop`: (seconds since start, unprocessed
    commands), or with another `sql`, (seconds since start, its first row)."""
    started = time.monotonic()
    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
            while not stop.is_set():
                row = conn.execute(sql).fetchone()
                samples.append((time.monotonic() - started, row[0] if len(row) == 1 else row))
                stop.wait(interval)
    except psycopg.Error as exc:
        samples.append((time.monotonic() - started, f"error: {exc}"))


def percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def login(client: httpx.AsyncClient, url: str, username: str) -> str:
    response = await client.post(f"{url}/api/v1/auth/token", json={"username": username, "password": PASSWORD}, timeout=60)
    response.raise_for_status()
    return response.json()["access"]


async def log_in_all(client: httpx.AsyncClient, url: str, usernames: list[str]) -> list[dict]:
    """Each user's Authorization header, logged in a few at a time (logins hash passwords)."""
    tokens = []
    for i in range(0, len(usernames), 10):
        tokens += await asyncio.gather(*(login(client, url, u) for u in usernames[i:i + 10]))
    return [{"Authorization": f"Bearer {t}"} for t in tokens]


async def run(urls: list[str], usernames: list[str], args, backlog: list, start_sampler) -> dict:
    rng = random.Random(args.seed)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    timeout = httpx.Timeout(args.timeout)
    clients = [httpx.AsyncClient(limits=limits, timeout=timeout) for _ in urls]
    try:
        headers = await log_in_all(clients[0], urls[0], usernames)
        start_sampler()  # the backlog clock starts with the load

        total = int(args.rate * args.seconds)
        latencies: list[float] = []
        statuses: Counter = Counter()
        errors: Counter = Counter()
        counts = {"sent": 0, "ok": 0, "done": 0}
        window: list[float] = []  # completion times of ok responses, for the current rate
        in_flight = asyncio.Semaphore(args.concurrency)

        async def place(n: int) -> None:
            side = "BUY" if n % 2 == 0 else "SELL"
            # Prices straddle the mid: about half the orders cross the spread.
            price = f"{args.mid + rng.uniform(-args.spread, args.spread):.2f}"
            body = {"symbol": "BTC/USDT", "side": side, "type": "LIMIT", "quantity": args.quantity, "price": price}
            k = n % len(headers)
            client, url = clients[n % len(urls)], urls[n % len(urls)]
            sent = time.perf_counter()
            try:
                response = await client.post(f"{url}/api/v1/orders", json=body, headers=headers[k])
                elapsed = time.perf_counter() - sent
                statuses[response.status_code] += 1
                if response.status_code in (201, 202):
                    counts["ok"] += 1
                    latencies.append(elapsed)
                    window.append(time.monotonic())
                else:
                    errors[f"HTTP {response.status_code}: {response.text[:80]}"] += 1
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
            finally:
                counts["done"] += 1
                in_flight.release()

        def progress(final: bool = False) -> None:
            now = time.monotonic()
            while window and window[0] < now - 1:
                window.pop(0)
            ordered = sorted(latencies[-5000:])  # the recent ones: cheap enough every half second
            p99 = percentile(ordered, 0.99) * 1000
            last = backlog[-1][1] if backlog else "-"
            line = (f"\r{now - started:5.1f}s sent {counts['sent']:6d} ok {counts['ok']:6d} "
                    f"errors {counts['done'] - counts['ok']:5d} in flight {counts['sent'] - counts['done']:4d} "
                    f"rate {len(window):5d}/s p99 {p99:7.1f} ms backlog {last}   ")
            sys.stderr.write(line + ("\n" if final else ""))
            sys.stderr.flush()

        tasks = set()
        started = time.monotonic()
        deadline = started + args.seconds
        next_progress = started
        for n in range(total):
            due = started + n / args.rate
            now = time.monotonic()
            if now >= deadline:
                break
            if due > now:
                await asyncio.sleep(due - now)
            await in_flight.acquire()
            counts["sent"] += 1
            task = asyncio.create_task(place(n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            if time.monotonic() >= next_progress:
                progress()
                next_progress += 0.5
        send_elapsed = time.monotonic() - started
        # The last responses, at most --timeout s more.
        drain_deadline = time.monotonic() + args.timeout + 1
        while tasks and time.monotonic() < drain_deadline:
            await asyncio.sleep(0.25)
            progress()
        for task in list(tasks):
            task.cancel()
        progress(final=True)
        elapsed = time.monotonic() - started
    finally:
        for client in clients:
            await client.aclose()

    ordered = sorted(latencies)
    return {
        "asked_rate": args.rate,
        "seconds": args.seconds,
        "web_processes": args.web_processes if args.start else len(urls),
        "users": len(usernames),
        "concurrency": args.concurrency,
        "sent": counts["sent"],
        "ok": counts["ok"],
        "errors": counts["done"] - counts["ok"],
        "unfinished": counts["sent"] - counts["done"],
        "send_rate": round(counts["sent"] / send_elapsed, 1),
        "throughput_ok_per_s": round(counts["ok"] / elapsed, 1),
        "elapsed_s": round(elapsed, 1),
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 1),
        "p95_ms": round(percentile(ordered, 0.95) * 1000, 1),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1) if ordered else None,
        "status_counts": {str(k): v for k, v in sorted(statuses.items())},
        "errors_by_kind": dict(errors.most_common(10)),
    }


def add_exchange_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", action="append", default=[], help="base URL of a running exchange (repeatable)")
    parser.add_argument("--start", action="store_true", help="start an exchange of its own on a throwaway database")
    parser.add_argument("--web-processes", type=int, default=2, help="with --start: daphne processes behind the one port")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tradeengine"),
                        help="with --url: its database, for the load users, the backlog and the trades")


def open_exchange(parser: argparse.ArgumentParser, args, log_prefix: str):
    """The exchange to load: one of its own on a throwaway database (--start)
    or a running one (--url, loopback only). Returns (environment for
    manage.py, database URL, base URLs, stacks, stop); stop is None for a
    running exchange."""
    if args.start == bool(args.url):
        parser.error("give either --start or --url")
    for url in args.url:
        if not url.startswith(("http://127.0.0.1", "http://localhost")):
            parser.error("loopback URLs only")
    if args.start:
        log_dir = Path(tempfile.mkdtemp(prefix=log_prefix))
        env, database_url, urls, stacks, stop = start_exchange(log_dir, args.web_processes)
        print(f"exchange up: {' '.join(urls)} (logs in {log_dir})", file=sys.stderr)
        return env, database_url, urls, stacks, stop
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tradeengine.settings", "DATABASE_URL": args.database_url}
    return env, args.database_url, [u.rstrip("/") for u in args.url], [], None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=1000.0, help="orders per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    add_exchange_arguments(parser)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=64,
                        help="most requests in flight")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--mid", type=float, default=50000.0)
    parser.add_argument("--spread", type=float, default=5.0, help="prices are mid +- this")
    parser.add_argument("--quantity", default="0.001")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", default="", help="also write the result here")
    args = parser.parse_args()
    env, database_url, urls, stacks, stop = open_exchange(parser, args, "load-bench-")
    backlog: list = []
    halt = threading.Event()
    try:
        usernames = create_users(env, args.users, "load")
        with psycopg.connect(database_url, autocommit=True) as conn:
            trades_before = conn.execute("SELECT count(*) FROM orders_trade").fetchone()[0]
        sampler = threading.Thread(target=sample_backlog, args=(database_url, backlog, halt), daemon=True)
        cpu_marks = []

        def start_load() -> None:
            cpu_marks.append(cpu_seconds(stacks, database_url))
            sampler.start()

        result = asyncio.run(run(urls, usernames, args, backlog, start_load))
        cpu_marks.append(cpu_seconds(stacks, database_url))
        halt.set()
        sampler.join(timeout=10)
        numbers = [b for _, b in backlog if isinstance(b, int)]
        result["backlog_max"] = max(numbers) if numbers else None
        result["backlog_end"] = numbers[-1] if numbers else None
        # How long the matcher needs to catch up after the load (at most 60 s).
        with psycopg.connect(database_url, autocommit=True) as conn:
            waited = time.monotonic()
            while conn.execute(BACKLOG_SQL).fetchone()[0] and time.monotonic() - waited < 60:
                time.sleep(0.5)
            result["backlog_drained_after_s"] = round(time.monotonic() - waited, 1)
            result["backlog_after_drain"] = conn.execute(BACKLOG_SQL).fetchone()[0]
            result["trades"] = conn.execute("SELECT count(*) FROM orders_trade").fetchone()[0] - trades_before
        result["backlog_samples"] = " ".join(f"{t:.0f}s:{b}" for t, b in backlog)
        # Where the CPU went during the load, per ok order (PostgreSQL and
        # Redis: every server process on the machine).
        result["cpu_seconds"], result["cpu_ms_per_ok_order"] = cpu_spent(*cpu_marks, result["ok"])
    finally:
        halt.set()
        if stop is not None:
            stop()
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
