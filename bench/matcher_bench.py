"""How fast the matcher drains a backlog of journalled commands.

    python bench/matcher_bench.py [--commands 20000] [--batch-size 500] [--traders 20] [--profile]
                                  [--resting 50000] [--default-gc] [--stages]

Creates a private database (te_bench_<hex>) and migrates it, then journals N
LIMIT orders (GTC, about a third crossing the spread, the rest resting) for
20 funded traders with bulk SQL while no matcher runs: the orders as
PENDING, their funds locked with the ledger's ORDER_LOCK lines, one PLACE
command each, exactly what orders.services.place_order leaves behind. `--resting N` adds N one-lot
orders already OPEN in the book, far from the mid, that the matcher loads
at start (a deep book). Then a
Matcher in this process loads the book and calls process_batch() until the
journal is empty, timing the drain. Settlement tasks go to Redis (db 13, not
eager) and are discarded; market data is published as in production.

The process is set up as run_matcher sets it up (GC thresholds, the loaded
book frozen) unless --default-gc. Reports commands/s, statements per batch (every statement the batches send,
counted with connection.execute_wrapper), and CPU ms per command of this
process and of its PostgreSQL backend (psutil). `--profile` runs the drain
under cProfile and prints where the time goes (PROFILE_SORT=tottime and
PROFILE_LINES=60 change the listing); `--stages` splits the drain's wall time
by stage (reading commands, rows to engine orders, the engine, each write,
the commit, after commit), each into its statements and the Python around them. Finally `manage.py reconcile`
checks the ledger against the balances, and the database is dropped.

Loopback only (PostgreSQL 127.0.0.1:5432, Redis 127.0.0.1:6379).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import platform
import pstats
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from machine import cpu_model  # bench/machine.py: the script's own folder is on sys.path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.private_database import PG_SERVER, admin_sql, drop  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/13"
MID_TICKS = 5_000_000  # 50000.00 at a 0.01 tick
TICK = Decimal("0.01")
LOT = Decimal("0.001")
CROSSING = 0.35  # share of orders priced through the mid



def journal(commands: int, traders: int, seed: int, resting: int):
    """Write N PENDING limit orders, their locks and PLACE commands in bulk."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from matching.models import EngineCommand
    from orders.models import Order
    from riskadmin.services import upsert_symbol
    from settlement.balances import deposit
    from settlement.ledger import AVAILABLE, LOCKED, move
    from settlement.models import Balance, LedgerEntry

    symbol = upsert_symbol(
        name="BTC/USDT", tick_size=TICK, step_size=LOT, min_quantity=LOT,
        min_notional=Decimal("1"), maker_fee=Decimal("0.001"), taker_fee=Decimal("0.002"),
    )
    User = get_user_model()
    users = [User.objects.create(username=f"trader{i}") for i in range(traders)]
    for user in users:
        deposit(user_id=user.id, asset="BTC", amount=Decimal(commands))
        deposit(user_id=user.id, asset="USDT", amount=Decimal(commands) * 1_000_000)

    rng = random.Random(seed)
    orders = []
    for i in range(commands):
        side = "BUY" if rng.random() < 0.5 else "SELL"
        away = -1 if side == "BUY" else 1  # passive bids below the mid, asks above
        if rng.random() < CROSSING:
            ticks = MID_TICKS - away * rng.randint(1, 20)
        else:
            ticks = MID_TICKS + away * rng.randint(1, 200)
        price = TICK * ticks
        quantity = LOT * rng.randint(1, 10)
        asset, amount = ("USDT", price * quantity) if side == "BUY" else ("BTC", quantity)
        orders.append(Order(
            user=users[i % traders], symbol=symbol, side=side, type="LIMIT", time_in_force="GTC",
            price=price, quantity=quantity, locked_asset=asset, locked_amount=amount,
        ))
    deep = []
    for i in range(resting):
        side = "BUY" if i % 2 else "SELL"
        ticks = MID_TICKS + (-1 if side == "BUY" else 1) * (2_000 + (i // 2) % 5_000)
        asset, amount = ("USDT", TICK * ticks * LOT) if side == "BUY" else ("BTC", LOT)
        deep.append(Order(
            user=users[i % traders], symbol=symbol, side=side, type="LIMIT", time_in_force="GTC", price=TICK * ticks,
            quantity=LOT, locked_asset=asset, locked_amount=amount, status="OPEN", sequence=i + 1,
        ))
    with transaction.atomic():
        Order.objects.bulk_create(deep, batch_size=5000)
        Order.objects.bulk_create(orders, batch_size=2000)
        locked: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
        entries = []
        for order in deep + orders:
            locked[(order.user_id, order.locked_asset)] += order.locked_amount
            entries += [
                LedgerEntry(account_id=line.account_id, asset=line.asset, bucket=line.bucket, amount=line.amount,
                            kind=LedgerEntry.Kind.ORDER_LOCK, reference=f"order:{order.id}", leg=line.leg)
                for line in move(order.user_id, order.locked_asset, order.locked_amount, source=AVAILABLE, target=LOCKED, leg="lock")
            ]
        LedgerEntry.objects.bulk_create(entries, batch_size=5000)
        for (user_id, asset), amount in locked.items():
            balance = Balance.objects.select_for_update().get(user_id=user_id, asset=asset)
            balance.available -= amount
            balance.locked += amount
            balance.save(update_fields=["available", "locked", "updated_at"])
        EngineCommand.objects.bulk_create(
            [EngineCommand(symbol=symbol, kind=EngineCommand.Kind.PLACE, order=order) for order in orders], batch_size=5000
        )
    return symbol


class StageClock:
    """Wall time per stage of a batch, measured by wrapping the functions
    that do each stage; the statements a stage sends are counted apart, so
    what is left of a stage's time is Python (conversion, engine)."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)  # inclusive wall time per stage
        self.statements: dict[str, float] = defaultdict(float)  # statement wall time per stage
        self.stack: list[str] = ["other"]

    def wrap(self, owner, name: str, stage: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            self.stack.append(stage)
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.total[stage] += time.perf_counter() - t0
                self.stack.pop()

        setattr(owner, name, timed)

    def statement(self, seconds: float) -> None:
        self.statements[self.stack[-1]] += seconds

    def instrument(self, matcher) -> None:
        from django.db import connection

        from marketdata import events
        from matching import host, persist
        from matching.engine import MatchingEngine
        from settlement import balances

        self.wrap(host, "next_commands", "read commands")
        self.wrap(host, "to_engine_order", "rows to engine orders")
        self.wrap(MatchingEngine, "place", "engine")
        self.wrap(MatchingEngine, "cancel", "engine")
        self.wrap(MatchingEngine, "amend", "engine")
        self.wrap(persist, "write_orders", "orders UPDATE")
        self.wrap(balances, "release_order_funds", "release funds")
        self.wrap(persist, "write_trades", "trades + fills INSERT")
        self.wrap(persist, "write_book_states", "last price + state")
        self.wrap(events, "book_change", "market-data change")
        self.wrap(connection, "commit", "commit")
        self.wrap(matcher, "_after_commit", "after commit")
        self.wrap(host, "announce_processed", "  announce (Redis)")
        self.wrap(host, "enqueue_settlement", "  hand to settlement")
        self.wrap(host, "publish", "  publish market data")
        # report in batch order, whether or not a stage ran
        for stage in ("read commands", "rows to engine orders", "engine", "orders UPDATE", "release funds",
                      "trades + fills INSERT", "last price + state", "market-data change", "commit", "after commit",
                      "  announce (Redis)", "  hand to settlement", "  publish market data"):
            self.total[stage] += 0.0

    def report(self, elapsed: float) -> list[str]:
        """One line per stage in batch order: wall, of it statements, the
        rest Python. A nested stage's time is taken out of its parent's."""
        nested = {"release funds": "orders UPDATE", "  announce (Redis)": "after commit",
                  "  hand to settlement": "after commit", "  publish market data": "after commit"}
        own = dict(self.total)
        for stage, parent in nested.items():
            if stage in own and parent in own:
                own[parent] -= self.total[stage]  # statements go to the innermost stage already
        lines = []
        for stage, seconds in own.items():
            sql = self.statements.get(stage, 0.0)
            lines.append(f"  {stage:24} {seconds:6.2f}s  (statements {sql:5.2f}s, Python {seconds - sql:5.2f}s)")
        rest, sql = elapsed - sum(own.values()), self.statements.get("other", 0.0)
        lines.append(f"  {'the rest':24} {rest:6.2f}s  (statements {sql:5.2f}s: consuming the commands)")
        return lines


def drain(symbol, batch_size: int, profile: bool, default_gc: bool, stages: bool) -> dict:
    import psutil
    from django.db import connection

    from matching.host import GC_THRESHOLDS, Matcher
    from orders.models import Trade

    if not default_gc:  # as run_matcher sets up its process
        gc.set_threshold(*GC_THRESHOLDS)
    matcher = Matcher([symbol.id], batch_size=batch_size, owner="bench", freeze_after_load=not default_gc)
    matcher.load()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = psutil.Process(cursor.fetchone()[0])
    me = psutil.Process()

    counts: list[int] = []
    current = [0]
    clock = StageClock()

    seconds_by_statement: dict[str, float] = defaultdict(float)

    def count(execute, sql, params, many, context):
        current[0] += 1
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds = time.perf_counter() - t0
            seconds_by_statement[" ".join(sql.split()[:3])] += seconds
            clock.statement(seconds)

    after_commit = matcher._after_commit
    after_commit_seconds = [0.0]

    def timed_after_commit(result):
        t0 = time.perf_counter()
        after_commit(result)
        after_commit_seconds[0] += time.perf_counter() - t0

    matcher._after_commit = timed_after_commit
    if stages:
        clock.instrument(matcher)
    gc_seconds, gc_runs, gc_started = [0.0], [0, 0], [0.0]

    def gc_clock(phase: str, info: dict) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_seconds[0] += time.perf_counter() - gc_started[0]
            gc_runs[0] += 1
            gc_runs[1] += info["generation"] == 2

    gc.callbacks.append(gc_clock)
    profiler = cProfile.Profile() if profile else None
    drained = 0
    cpu_me, cpu_pg = sum(me.cpu_times()[:2]), sum(backend.cpu_times()[:2])
    started = time.perf_counter()
    with connection.execute_wrapper(count):
        if profiler:
            profiler.enable()
        while True:
            current[0] = 0
            result = matcher.process_batch()
            if not len(result):
                break
            counts.append(current[0])
            drained += len(result)
        if profiler:
            profiler.disable()
    elapsed = time.perf_counter() - started
    gc.callbacks.remove(gc_clock)
    cpu_me, cpu_pg = sum(me.cpu_times()[:2]) - cpu_me, sum(backend.cpu_times()[:2]) - cpu_pg
    if profiler:
        pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(int(os.environ.get("PROFILE_LINES", "30")))
    return {
        "drained": drained,
        "elapsed": elapsed,
        "after_commit": after_commit_seconds[0],
        "trades": Trade.objects.count(),
        "statements": counts,
        "seconds_by_statement": seconds_by_statement,
        "gc": (gc_runs[0], gc_runs[1], gc_seconds[0]),
        "cpu_matcher": cpu_me,
        "cpu_postgres": cpu_pg,
        "stages": clock.report(elapsed) if stages else [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--traders", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--resting", type=int, default=0, help="orders resting in the book before the backlog")
    parser.add_argument("--profile", action="store_true", help="run the drain under cProfile")
    parser.add_argument("--stages", action="store_true", help="time each stage of the batches (adds a little overhead)")
    parser.add_argument("--default-gc", action="store_true", help="keep CPython's GC settings (run_matcher tunes them)")
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
    redis_client = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)
        import django

        django.setup()
        import redis
        from django.core.management import call_command

        from marketdata import publisher

        redis_client = redis.Redis.from_url(REDIS_URL)
        redis_client.delete("celery")

        t0 = time.monotonic()
        symbol = journal(args.commands, args.traders, args.seed, args.resting)
        print(f"{args.resting} orders resting; journalled {args.commands} commands in {time.monotonic() - t0:.1f}s (not timed)")
        r = drain(symbol, args.batch_size, args.profile, args.default_gc, args.stages)
        publisher.shutdown()

        n, elapsed, counts = r["drained"], r["elapsed"], r["statements"]
        print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}")
        print(f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min, at the end)")
        print(f"drained {n} commands ({r['trades']} trades) in {len(counts)} batches of up to {args.batch_size}: {elapsed:.2f}s")
        print(f"throughput: {n / elapsed:,.0f} commands/s{' (under cProfile)' if args.profile else ''}")
        print(f"  after commit (announce, enqueue settlement, publish): {r['after_commit']:.2f}s of it;"
              f" batches alone (read, match, write, commit): {n / (elapsed - r['after_commit']):,.0f} commands/s")
        print(f"statements per batch: min {min(counts)}, median {statistics.median(counts):.0f}, max {max(counts)}")
        waits = sorted(r["seconds_by_statement"].items(), key=lambda kv: -kv[1])
        print(f"statement time (wall, summed over batches): {sum(s for _, s in waits):.2f}s: "
              + ", ".join(f"{name}... {seconds:.2f}s" for name, seconds in waits[:6]))
        if r["stages"]:
            print("where the drain's wall time goes, by stage (wall; of it statements; the rest Python):")
            print("\n".join(r["stages"]))
        print(f"garbage collector: {r['gc'][0]} collections ({r['gc'][1]} full), {r['gc'][2] * 1000:.0f} ms"
              f" ({'CPython defaults' if args.default_gc else 'run_matcher settings: thresholds raised, loaded book frozen'})")
        print(f"CPU per command: matcher process {1000 * r['cpu_matcher'] / n:.3f} ms, PostgreSQL backend {1000 * r['cpu_postgres'] / n:.3f} ms")
        if n != args.commands:
            raise SystemExit(f"drained {n} of {args.commands} commands")
        call_command("reconcile")
    finally:
        if redis_client is not None:
            redis_client.delete("celery")
        drop(db_name)


if __name__ == "__main__":
    main()
