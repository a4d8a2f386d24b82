"""Settlement throughput with ONE Celery worker, as the Procfile runs it.

    python bench/settlement_bench.py [--trades 20000] [--single-trades 2000] [--repeats 3]
                                     [--concurrency 2] [--timeout 600]

Creates a private database (te_bench_<hex>) and migrates it, seeds funded
traders and trades by placing crossing orders through orders.services and
running the matcher in this process; the matcher's hand-off to settlement is
held back and its batches kept. Then, for each repeat, two runs on the same
machine side by side:

- single: one `settle_trade` task per trade (how settlement worked before
  batches), for --single-trades trades;
- batch: the matcher's batches handed to `settlement.services.enqueue_settlement`
  (one `settle_trades` task per batch), for --trades trades.

Each run queues its tasks to Redis (db 13), starts one worker
(`celery -A tradeengine worker --concurrency=2`, prefork, as in the Procfile),
times from the worker's start until its trades are SETTLED, and reads the CPU
time of the worker (with its pool processes) and of the PostgreSQL backends
serving it, then stops the worker. The medians of the repeats are printed.
Finally it runs `manage.py reconcile` and drops the database.

Loopback only (PostgreSQL 127.0.0.1:5432, Redis 127.0.0.1:6379); bounded by
--timeout.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

import psutil

from machine import cpu_model  # bench/machine.py: the script's own folder is on sys.path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.private_database import PG_SERVER, admin_sql, drop  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/13"
MAKER_LOTS_PER_TAKER = 50  # each taker buy sweeps this many one-lot maker sells
TRADERS_PER_SIDE = 20



def seed(trades: int) -> list[list[int]]:
    """N one-lot maker sells, swept by taker buys. Returns the trade ids in
    the batches the matcher handed to settlement (held back, not queued)."""
    from django.contrib.auth import get_user_model

    from matching import host
    from orders.models import Trade
    from orders.services import place_order
    from orders.validation import OrderRequest
    from riskadmin.services import upsert_symbol
    from settlement.balances import deposit

    symbol = upsert_symbol(
        name="BTC/USDT", tick_size=Decimal("0.01"), step_size=Decimal("0.001"), min_quantity=Decimal("0.001"),
        min_notional=Decimal("1"), maker_fee=Decimal("0.001"), taker_fee=Decimal("0.002"),
    )
    User = get_user_model()
    sellers = [User.objects.create(username=f"seller{i}") for i in range(TRADERS_PER_SIDE)]
    buyers = [User.objects.create(username=f"buyer{i}") for i in range(TRADERS_PER_SIDE)]
    for user in sellers:
        deposit(user_id=user.id, asset="BTC", amount=Decimal(trades))
    for user in buyers:
        deposit(user_id=user.id, asset="USDT", amount=Decimal(trades) * 100_000)

    def place(user, side: str, quantity: str, price: str) -> None:
        place_order(user=user, request=OrderRequest(symbol=symbol, side=side, type="LIMIT", quantity=Decimal(quantity), price=Decimal(price)))

    held: list[list[int]] = []
    host.enqueue_settlement = lambda trade_ids: held.append(list(trade_ids)) if trade_ids else None
    matcher = host.Matcher([symbol.id])
    for i in range(trades):
        place(sellers[i % len(sellers)], "SELL", "0.01", "50000.00")
    for i in range(0, trades, MAKER_LOTS_PER_TAKER):
        lots = min(MAKER_LOTS_PER_TAKER, trades - i)
        place(buyers[(i // MAKER_LOTS_PER_TAKER) % len(buyers)], "BUY", f"{Decimal('0.01') * lots}", "50000.00")
    while matcher.process_batch():
        pass
    made = Trade.objects.filter(settlement_status=Trade.Settlement.PENDING).count()
    if made != trades or sum(map(len, held)) != trades:
        raise SystemExit(f"seeding made {made} pending trades, wanted {trades}")
    return held


def take(batches: list[list[int]], trades: int) -> list[list[int]]:
    """The first matcher batches holding `trades` trades (the last one cut)."""
    taken: list[list[int]] = []
    while trades > 0:
        batch = batches.pop(0)
        if len(batch) > trades:
            batches.insert(0, batch[trades:])
            batch = batch[:trades]
        taken.append(batch)
        trades -= len(batch)
    return taken


def cpu_seconds(processes) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def run(mode: str, batches: list[list[int]], warm_up: list[int], *, env: dict, db_name: str, concurrency: int,
        timeout: float) -> dict:
    """Queue the trades as `mode` says, start one worker, wait until they are
    SETTLED; returns the elapsed time and CPU seconds of worker and database.

    One warm-up trade per pool process is queued first, each alone in its
    task: "steady" is timed from the first of them settled (the worker is up,
    its processes connected) to the last trade settled."""
    import psycopg

    from settlement import services, tasks

    trade_ids = [trade_id for batch in batches for trade_id in batch]
    for trade_id in warm_up:
        tasks.settle_trades.delay([trade_id])
    if mode == "single":
        for trade_id in trade_ids:
            tasks.settle_trade.delay(trade_id)
    else:
        for batch in batches:
            services.enqueue_settlement(batch)

    log = open(ROOT / "bench" / f".{db_name}.worker.log", "a")  # noqa: SIM115 - closed below
    started = time.monotonic()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tradeengine", "worker", f"--concurrency={concurrency}",
         "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
            poller = conn.info.backend_pid
            deadline = started + timeout
            remaining = trade_ids + warm_up
            while True:  # autocommit: each poll reads a fresh snapshot; only what is left is asked for
                remaining = [row[0] for row in conn.execute(
                    "SELECT id FROM orders_trade WHERE id = ANY(%s) AND settlement_status <> 'SETTLED'", (remaining,)
                ).fetchall()]
                if not remaining:
                    finished = time.time()
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"{mode}: timed out, {len(remaining)} trades not settled after {timeout:.0f}s")
                time.sleep(0.05)
            elapsed = time.monotonic() - started
            warm = conn.execute("SELECT extract(epoch FROM min(settled_at)) FROM orders_trade WHERE id = ANY(%s)", (warm_up,)).fetchone()[0]
            steady = finished - float(warm)
            # The worker keeps its database connections (DB_CONN_MAX_AGE): its backends are still there.
            backends = [row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> %s", (db_name, poller)
            ).fetchall()]
        parent = psutil.Process(worker.pid)
        worker_cpu = cpu_seconds([parent, *parent.children(recursive=True)])
        database_cpu = cpu_seconds(psutil.Process(pid) for pid in backends if psutil.pid_exists(pid))
    finally:
        worker.terminate()  # warm shutdown: the main process stops its pool
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        log.close()
    return {"trades": len(trade_ids), "tasks": len(trade_ids) if mode == "single" else sum(
        len(tasks.batches(batch)) for batch in batches), "elapsed": elapsed, "steady": float(steady), "worker_cpu": worker_cpu, "database_cpu": database_cpu}


def report(mode: str, runs: list[dict]) -> None:
    rate = statistics.median(r["trades"] / r["elapsed"] for r in runs)
    worker_ms = statistics.median(1000 * r["worker_cpu"] / r["trades"] for r in runs)
    database_ms = statistics.median(1000 * r["database_cpu"] / r["trades"] for r in runs)
    steady = statistics.median(r["trades"] / r["steady"] for r in runs)
    each = ", ".join(f"{r['trades'] / r['elapsed']:.0f}" for r in runs)
    print(f"{mode:>6}: {runs[0]['trades']} trades in {runs[0]['tasks']} tasks per run; median {rate:.0f} trades/s "
          f"from worker start (runs: {each}), {steady:.0f} trades/s once it is up; "
          f"CPU per trade: worker {worker_ms:.2f} ms, PostgreSQL {database_ms:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trades", type=int, default=2000, help="trades per batch-mode run")
    parser.add_argument("--single-trades", type=int, default=None, help="trades per single-mode run (default: --trades, at most 2000)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=2, help="the worker's pool size (the Procfile's is 2)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for each run")
    args = parser.parse_args()
    single_trades = args.single_trades if args.single_trades is not None else min(args.trades, 2000)

    db_name = f"te_bench_{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "DATABASE_URL": f"{PG_SERVER}/{db_name}",
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_TASK_DEFAULT_QUEUE": db_name,  # Redis db 13 may serve other benchmarks' workers
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "WALLET_SERVICE_URL": "",
        "DJANGO_SETTINGS_MODULE": "tradeengine.settings",
    }
    os.environ.update(env)
    admin_sql(f'CREATE DATABASE "{db_name}"')
    redis_client = None
    failed = True
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)
        import django

        django.setup()
        import redis
        from django.core.management import call_command
        from django.db import connection

        redis_client = redis.Redis.from_url(REDIS_URL)
        redis_client.delete(db_name)

        started = time.monotonic()
        runs_planned = [(mode, trades) for mode, trades in (("single", single_trades), ("batch", args.trades)) if trades]
        total = args.repeats * sum(trades + args.concurrency for _, trades in runs_planned)
        batches = seed(total)
        sizes = sorted(map(len, batches))
        print(f"seeded {total} trades in {time.monotonic() - started:.1f}s; matcher batches: {len(batches)} "
              f"(median {sizes[len(sizes) // 2]} trades)")
        connection.close()

        print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}")
        print(f"worker: celery -A tradeengine worker --concurrency={args.concurrency} (prefork)")
        runs: dict[str, list[dict]] = {"single": [], "batch": []}
        for _ in range(args.repeats):
            for mode, trades in runs_planned:
                warm_up = [trade_id for batch in take(batches, args.concurrency) for trade_id in batch]
                result = run(mode, take(batches, trades), warm_up, env=env, db_name=db_name,
                             concurrency=args.concurrency, timeout=args.timeout)
                runs[mode].append(result)
                print(f"  {mode}: {result['trades']} trades in {result['elapsed']:.2f}s from worker start "
                      f"({result['steady']:.2f}s once it was up)")
        for mode, results in runs.items():
            if results:
                report(mode, results)
        call_command("reconcile")
        failed = False
    finally:
        if redis_client is not None:
            redis_client.delete(db_name)
        drop(db_name)
        log = ROOT / "bench" / f".{db_name}.worker.log"
        if failed:
            print(f"worker log kept: {log}")
        else:
            log.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
