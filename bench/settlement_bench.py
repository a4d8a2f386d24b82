"""Settlement throughput with ONE Celery worker process.

    python bench/settlement_bench.py [--trades 2000] [--timeout 600]

Creates a private database (te_bench_<hex>) and migrates it, seeds funded
traders and N trades by placing crossing orders through orders.services and
running the matcher in this process with Celery NOT eager, so each trade is
queued to Redis (db 13) exactly as in production. Then it starts one worker
(`celery -A tradeengine worker --concurrency=1 --pool=prefork`) and times
from the worker's start until every trade is SETTLED. Finally it runs
`manage.py reconcile` on the result, stops the worker and drops the database.

Loopback only (PostgreSQL 127.0.0.1:5432, Redis 127.0.0.1:6379); bounded by
--timeout.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

from machine import cpu_model  # bench/machine.py: the script's own folder is on sys.path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_SERVER = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/13"
MAKER_LOTS_PER_TAKER = 50  # each taker buy sweeps this many one-lot maker sells
TRADERS_PER_SIDE = 20


def admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def seed(trades: int) -> None:
    """N one-lot maker sells, swept by taker buys; the matcher queues one
    settlement task per trade to Redis."""
    from django.contrib.auth import get_user_model

    from matching.host import Matcher
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

    matcher = Matcher([symbol.id])
    for i in range(trades):
        place(sellers[i % len(sellers)], "SELL", "0.01", "50000.00")
    for i in range(0, trades, MAKER_LOTS_PER_TAKER):
        lots = min(MAKER_LOTS_PER_TAKER, trades - i)
        place(buyers[(i // MAKER_LOTS_PER_TAKER) % len(buyers)], "BUY", f"{Decimal('0.01') * lots}", "50000.00")
    while matcher.process_batch():
        pass
    made = Trade.objects.filter(settlement_status=Trade.Settlement.PENDING).count()
    if made != trades:
        raise SystemExit(f"seeding made {made} pending trades, wanted {trades}")


def wait_until_settled(trades: int, timeout: float) -> tuple[float, int]:
    from django.db import connection

    from orders.models import Trade

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection.close()  # a fresh snapshot each poll, no idle transaction
        left = Trade.objects.exclude(settlement_status=Trade.Settlement.SETTLED).count()
        if not left:
            return time.monotonic(), 0
        time.sleep(0.05)
    return time.monotonic(), left


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trades", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the worker")
    args = parser.parse_args()

    db_name = f"te_bench_{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "DATABASE_URL": f"{PG_SERVER}/{db_name}",
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "WALLET_SERVICE_URL": "",
        "DJANGO_SETTINGS_MODULE": "tradeengine.settings",
    }
    os.environ.update(env)
    admin_sql(f'CREATE DATABASE "{db_name}"')
    worker = None
    redis_client = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)
        import django

        django.setup()
        import redis
        from django.core.management import call_command
        from django.db import connection

        from orders.models import Trade

        redis_client = redis.Redis.from_url(REDIS_URL)
        redis_client.delete("celery")  # leftovers of an aborted run

        started = time.monotonic()
        seed(args.trades)
        print(f"seeded {args.trades} trades in {time.monotonic() - started:.1f}s; queued: {redis_client.llen('celery')}")
        connection.close()

        log = open(ROOT / "bench" / f".{db_name}.worker.log", "w")  # noqa: SIM115 - closed with the worker
        worker_started = time.monotonic()
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tradeengine", "worker", "--concurrency=1", "--pool=prefork",
             "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        finished, left = wait_until_settled(args.trades, args.timeout)
        if left:
            raise SystemExit(f"timed out: {left} trades not settled after {args.timeout:.0f}s")
        elapsed = finished - worker_started
        first_last = Trade.objects.aggregate(first=django.db.models.Min("settled_at"), last=django.db.models.Max("settled_at"))
        steady = (first_last["last"] - first_last["first"]).total_seconds()

        print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}")
        print(f"settled {args.trades} trades with 1 worker (prefork, concurrency 1) in {elapsed:.2f}s from worker start")
        print(f"throughput: {args.trades / elapsed:.0f} trades/s (worker start to last settled)")
        if steady > 0:
            print(f"steady state: {(args.trades - 1) / steady:.0f} trades/s (first to last settlement)")
        call_command("reconcile")
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
            log.close()
            if sys.exc_info()[0] is None:
                Path(log.name).unlink(missing_ok=True)
            else:
                print(f"worker log kept: {log.name}")
        if redis_client is not None:
            redis_client.delete("celery")
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # Django may not be set up if migrate failed
            pass
        admin_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
