"""Soak test: the whole exchange under a moderate steady load for a long
time, sampling each process's memory, CPU, open connections and fds.

    python bench/soak.py --minutes 20 --interval 10 --rate 20 --png docs/soak-20min.png
    python bench/soak.py --minutes 1440 --interval 30   # 24 h
    # the reference day's 864,000 orders, compressed, through the batch API:
    python bench/soak.py --orders 864000 --orders-per-request 20 --rate 60 --minutes 40 \
        --interval 10 --csv docs/soak-day.csv --png docs/soak-day.png

It starts its own exchange (throwaway database; run_web with its daphne
processes, matcher and Celery worker, as bench/load.py --start does; each
child process is sampled on its own), creates funded load users, and
places crossing LIMIT orders at --rate per second (and reads a balance every
tenth order) until --minutes are up. Every --interval seconds it writes one
CSV row per process: RSS, CPU% (of one core, since the previous sample),
open fds, open TCP connections, plus the requests sent, ok and failed so far
and the matcher backlog. At the end it draws memory and CPU per process over
time (PNG) and flags any process whose mean RSS in the last third of the run
is more than --growth-limit (default 10%) above its mean in the first third
(samples during --warmup are left out); the exit code is 1 when a process is
flagged or died or any request failed, 0 otherwise.

With --orders-per-request above 1 every order request is a batch (POST
/api/v1/orders/batch) of that many orders; even users sell and odd users buy
at one price, so every order trades once its other side arrives (about one
trade per two orders) and the book stays shallow. --orders ends the load
after that many orders. After the load it waits (--drain-timeout) until the
matcher's journal is empty and every trade is settled, then runs
`manage.py reconcile` and `manage.py verify_book` on the soak's database;
the exit code is also 1 when an order was refused, something was left
unsettled, or a check failed. The summary gives the load's and the whole
run's wall time. Each load user logs in
again a minute before its access token expires. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import csv
import json
import random
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

from bench.load import BACKLOG_SQL, create_users, login, start_exchange  # noqa: E402

FIELDS = ["t_s", "process", "pid", "alive", "rss_mb", "cpu_pct", "fds", "connections",
          "sent", "ok", "errors", "backlog"]


def measure(procs: dict[str, psutil.Process]) -> dict[str, dict]:
    out = {}
    for name, proc in procs.items():
        try:
            with proc.oneshot():
                out[name] = {
                    "alive": int(proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE),
                    "rss_mb": round(proc.memory_info().rss / 2**20, 2),
                    "cpu_pct": round(proc.cpu_percent(None), 1),
                    "fds": proc.num_fds(),
                    "connections": len(proc.net_connections(kind="tcp")),
                }
        except psutil.Error:
            out[name] = {"alive": 0, "rss_mb": "", "cpu_pct": "", "fds": "", "connections": ""}
    return out


RENEW_BEFORE_SECONDS = 60


def expires_at(token: str) -> float:
    """The `exp` claim of a JWT (read, not verified: the server verifies)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]


class Credentials:
    """The load users' access tokens, each renewed by a new login a minute
    before it expires: a long run outlives a token's lifetime."""

    def __init__(self, client: httpx.AsyncClient, url: str, usernames: list[str], counts: Counter) -> None:
        self.client, self.url, self.usernames, self.counts = client, url, usernames, counts
        self.headers: list[dict] = [{} for _ in usernames]
        self.expiry = [0.0] * len(usernames)
        self.locks = [asyncio.Lock() for _ in usernames]

    async def log_in_all(self) -> None:
        for i in range(0, len(self.usernames), 10):  # logins hash passwords: a few at a time
            await asyncio.gather(*(self.header(k) for k in range(i, min(i + 10, len(self.usernames)))))

    async def header(self, k: int) -> dict:
        if self.expiry[k] - time.time() < RENEW_BEFORE_SECONDS:
            async with self.locks[k]:
                if self.expiry[k] - time.time() < RENEW_BEFORE_SECONDS:
                    token = await login(self.client, self.url, self.usernames[k])
                    self.headers[k], self.expiry[k] = {"Authorization": f"Bearer {token}"}, expires_at(token)
                    self.counts["logins"] += 1
        return self.headers[k]


async def load(urls: list[str], usernames: list[str], args, counts: Counter, errors: Counter, deadline: float) -> None:
    rng = random.Random(args.seed)
    async with httpx.AsyncClient(timeout=httpx.Timeout(30), limits=httpx.Limits(max_connections=args.concurrency)) as client:
        credentials = Credentials(client, urls[0], usernames, counts)
        await credentials.log_in_all()
        in_flight = asyncio.Semaphore(args.concurrency)
        tasks: set[asyncio.Task] = set()

        async def one(n: int, batch: int | None) -> None:
            url = urls[n % len(urls)]
            try:
                if batch is None:
                    auth = await credentials.header(n % len(usernames))
                    response = await client.get(f"{url}/api/v1/balances", headers=auth)
                    good = response.status_code == 200
                elif args.orders_per_request == 1:
                    auth = await credentials.header(n % len(usernames))
                    side = "BUY" if n % 2 == 0 else "SELL"
                    price = f"{50000 + rng.uniform(-5, 5):.2f}"
                    body = {"symbol": "BTC/USDT", "side": side, "type": "LIMIT", "quantity": "0.001", "price": price}
                    response = await client.post(f"{url}/api/v1/orders", json=body, headers=auth)
                    good = response.status_code in (201, 202)
                else:
                    # Even users sell, odd users buy, all at one price: every
                    # order trades once the other side arrives, the book stays
                    # shallow and no trader meets itself.
                    user = batch % len(usernames)
                    auth = await credentials.header(user)
                    side = "SELL" if user % 2 == 0 else "BUY"
                    order = {"symbol": "BTC/USDT", "side": side, "type": "LIMIT", "quantity": "0.001", "price": "50000.00"}
                    response = await client.post(f"{url}/api/v1/orders/batch", json={"orders": [order] * args.orders_per_request}, headers=auth)
                    good = response.status_code in (201, 202)
                    if good:
                        refused = [item["error"]["code"] for item in response.json()["orders"] if "error" in item]
                        for code in refused:
                            errors[code] += 1
                        counts["orders_refused"] += len(refused)
                counts["ok" if good else "errors"] += 1
                if not good:
                    errors[f"HTTP {response.status_code}"] += 1
            except httpx.HTTPError as exc:
                counts["errors"] += 1
                errors[type(exc).__name__] += 1
            finally:
                in_flight.release()

        started = time.monotonic()
        n = batches = 0
        while time.monotonic() < deadline and counts["orders_sent"] < args.orders:
            due = started + n / args.rate
            if (delay := due - time.monotonic()) > 0:
                await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                if time.monotonic() >= deadline:
                    break
            await in_flight.acquire()
            counts["sent"] += 1
            places = n % 10 != 9  # every tenth request reads a balance
            task = asyncio.create_task(one(n, batches if places else None))
            if places:
                batches += 1
                counts["orders_sent"] += args.orders_per_request
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        if tasks:
            await asyncio.wait(tasks, timeout=35)


def sampler(procs, database_url, args, counts, rows, out, writer, stop: threading.Event, started: float) -> None:
    measure(procs)  # primes cpu_percent
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        while not stop.wait(args.interval):
            t = round(time.monotonic() - started, 1)
            try:
                backlog = conn.execute(BACKLOG_SQL).fetchone()[0]
            except psycopg.Error:
                backlog = ""
            for name, m in measure(procs).items():
                row = {"t_s": t, "process": name, "pid": procs[name].pid, **m,
                       "sent": counts["sent"], "ok": counts["ok"], "errors": counts["errors"], "backlog": backlog}
                rows.append(row)
                writer.writerow(row)
            out.flush()  # a long run can be watched, and survives a crash
            line = "  ".join(f"{name} {m['rss_mb']}MB {m['cpu_pct']}%" for name, m in measure_view(rows, t))
            sys.stderr.write(f"\r{t:7.0f}s sent {counts['sent']} ok {counts['ok']} errors {counts['errors']} "
                             f"backlog {backlog}  {line}   ")
            sys.stderr.flush()


def drain(database_url: str, timeout: float) -> float | None:
    """Seconds until the journal is empty and every trade settled; None if
    that did not happen within `timeout`."""
    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() - started < timeout:
            backlog = conn.execute(BACKLOG_SQL).fetchone()[0]
            unsettled = conn.execute("SELECT count(*) FROM orders_trade WHERE settlement_status <> 'SETTLED'").fetchone()[0]
            if not backlog and not unsettled:
                return round(time.monotonic() - started, 1)
            time.sleep(0.5)
    return None


def check(env: dict, command: str) -> tuple[bool, str]:
    """Run `manage.py reconcile` or `verify_book` against the soak's database."""
    result = subprocess.run([sys.executable, "manage.py", command], cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    return result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def measure_view(rows: list[dict], t: float):
    return [(r["process"], r) for r in rows if r["t_s"] == t]


def growth(rows: list[dict], warmup: float) -> dict[str, dict]:
    """Mean RSS of the first and the last third of the samples after warm-up."""
    result = {}
    for name in dict.fromkeys(r["process"] for r in rows):
        series = [r["rss_mb"] for r in rows if r["process"] == name and r["t_s"] >= warmup and r["rss_mb"] != ""]
        if len(series) < 3:
            continue
        third = len(series) // 3
        first = sum(series[:third]) / third
        last = sum(series[-third:]) / third
        result[name] = {"first_third_mb": round(first, 1), "last_third_mb": round(last, 1),
                        "growth_pct": round((last - first) / first * 100, 1), "samples": len(series)}
    return result


def chart(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (mem, cpu) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True)
    scale, unit = (60, "min") if rows and rows[-1]["t_s"] > 600 else (1, "s")
    for name in dict.fromkeys(r["process"] for r in rows):
        points = [r for r in rows if r["process"] == name and r["rss_mb"] != ""]
        xs = [r["t_s"] / scale for r in points]
        mem.plot(xs, [r["rss_mb"] for r in points], label=name)
        cpu.plot(xs, [r["cpu_pct"] for r in points], label=name)
    mem.set_ylabel("RSS (MiB)")
    cpu.set_ylabel("CPU (% of one core)")
    cpu.set_xlabel(f"time ({unit})")
    mem.set_title(title, fontsize=10)
    mem.legend(loc="upper left", fontsize=8)
    mem.grid(alpha=0.3)
    cpu.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second (9 order requests : 1 balance read)")
    parser.add_argument("--orders-per-request", type=int, default=1,
                        help="1: POST /api/v1/orders; more: POST /api/v1/orders/batch with that many orders")
    parser.add_argument("--orders", type=int, default=0, help="stop once this many orders were sent (0: run --minutes)")
    parser.add_argument("--drain-timeout", type=float, default=600.0,
                        help="seconds to wait after the load for the matcher and settlement to catch up")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--web-processes", type=int, default=2, help="daphne processes behind run_web")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds left out of the growth check")
    parser.add_argument("--growth-limit", type=float, default=10.0, help="percent")
    parser.add_argument("--csv", default="", help="default: soak.csv in a new temporary directory")
    parser.add_argument("--png", default="", help="default: next to the CSV")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    args.orders = args.orders or float("inf")
    if args.orders_per_request > 1:
        args.users += args.users % 2  # sellers and buyers in pairs

    log_dir = Path(tempfile.mkdtemp(prefix="soak-"))
    csv_path = Path(args.csv) if args.csv else log_dir / "soak.csv"
    png_path = Path(args.png) if args.png else csv_path.with_suffix(".png")
    env, database_url, urls, stacks, stop = start_exchange(log_dir, args.web_processes)
    print(f"exchange up: {' '.join(urls)} (logs in {log_dir})", file=sys.stderr)
    rows: list[dict] = []
    counts: Counter = Counter()
    errors: Counter = Counter()
    halt = threading.Event()
    try:
        procs = {}
        for i, stack in enumerate(stacks):
            for name, process in stack.processes.items():
                key = name if i == 0 else f"{name}-{i}"
                procs[key] = psutil.Process(process.pid)
                # run_web's daphne processes, the Celery worker's pool processes.
                for j, child in enumerate(procs[key].children(recursive=True), 1):
                    procs[f"{key}.{j}"] = child
        usernames = create_users(env, args.users, "soak")
        with open(csv_path, "w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=FIELDS)
            writer.writeheader()
            started = time.monotonic()
            deadline = started + args.minutes * 60
            thread = threading.Thread(target=sampler, daemon=True,
                                      args=(procs, database_url, args, counts, rows, out, writer, halt, started))
            thread.start()
            asyncio.run(load(urls, usernames, args, counts, errors, deadline))
            halt.set()
            thread.join(timeout=30)
        sys.stderr.write("\n")
        load_seconds = time.monotonic() - started
        caught_up_after = drain(database_url, args.drain_timeout)
        wall_seconds = time.monotonic() - started
        with psycopg.connect(database_url, autocommit=True) as conn:
            trades = conn.execute("SELECT count(*) FROM orders_trade").fetchone()[0]
            orders_stored = conn.execute("SELECT count(*) FROM orders_order").fetchone()[0]
            unsettled = conn.execute("SELECT count(*) FROM orders_trade WHERE settlement_status <> 'SETTLED'").fetchone()[0]
        checks = {name: check(env, name) for name in ("reconcile", "verify_book")}
    finally:
        halt.set()
        stop()

    grown = growth(rows, args.warmup)
    flagged = sorted(name for name, g in grown.items() if g["growth_pct"] > args.growth_limit)
    died = sorted({r["process"] for r in rows if not r["alive"]})
    by_process = {}
    for name in dict.fromkeys(r["process"] for r in rows):
        mine = [r for r in rows if r["process"] == name and r["rss_mb"] != ""]
        cpus = [r["cpu_pct"] for r in mine]
        by_process[name] = {
            "rss_mb_first": mine[0]["rss_mb"] if mine else None,
            "rss_mb_last": mine[-1]["rss_mb"] if mine else None,
            "rss_mb_max": max(r["rss_mb"] for r in mine) if mine else None,
            "cpu_pct_mean": round(sum(cpus) / len(cpus), 1) if cpus else None,
            "fds_max": max(r["fds"] for r in mine) if mine else None,
            "connections_max": max(r["connections"] for r in mine) if mine else None,
            **grown.get(name, {}),
        }
    elapsed = rows[-1]["t_s"] if rows else 0
    per = f", {args.orders_per_request} orders a request" if args.orders_per_request > 1 else ""
    chart(rows, png_path, f"soak: {counts['orders_sent']} orders at {args.rate:g} req/s{per}, sampled every {args.interval:g} s")
    summary = {
        "minutes": args.minutes,
        "rate": args.rate,
        "sent": counts["sent"],
        "ok": counts["ok"],
        "errors": counts["errors"],
        "errors_by_kind": dict(errors.most_common(10)),
        "logins": counts["logins"],
        "achieved_rate": round(counts["ok"] / elapsed, 1) if elapsed else None,
        "orders_per_request": args.orders_per_request,
        "orders_sent": counts["orders_sent"],
        "orders_refused": counts["orders_refused"],
        "orders_stored": orders_stored,
        "trades": trades,
        "trades_unsettled_at_end": unsettled,
        "load_seconds": round(load_seconds, 1),
        "caught_up_seconds_after_load": caught_up_after,
        "wall_seconds": round(wall_seconds, 1),
        "checks": {name: ok for name, (ok, _) in checks.items()},
        "processes": by_process,
        "memory_growth_flagged": flagged,
        "died": died,
        "csv": str(csv_path),
        "png": str(png_path),
    }
    print(json.dumps(summary, indent=2))
    for name, (ok, output) in checks.items():
        if not ok:
            print(f"{name} failed:\n{output}", file=sys.stderr)
    failed = flagged or died or counts["errors"] or counts["orders_refused"] or unsettled or caught_up_after is None
    return 1 if failed or not all(ok for ok, _ in checks.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
