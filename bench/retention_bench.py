"""Matcher start-up and verify_book with millions of processed commands,
with the journal all hot and after archive_journal moved the old part out.

    python bench/retention_bench.py [--commands 1000000] [--resting 10000] [--days 10] [--retention-days 1]
                                    [--full-after]

Creates a private database (te_bench_<hex>) and migrates it, then writes a
consistent matched history with bulk SQL (generate_series, foreign-key and
notify triggers off while filling): `--resting` BUY orders left OPEN below
the market, then groups of four processed commands (a SELL that rests, a
BUY that takes it in one trade, a BUY that rests and its CANCEL), with
processed_at spread evenly over the last `--days` days: the orders, trades
(SETTLED), symbol last price and matcher state are what the matcher would
have stored. Then, side by side:

  1. hot:      Matcher.load() + the first next_commands() (median of 3), and
               one `verify_book` (replays the whole journal);
  2. archive:  one `archive_journal --retention-days R` (its first
               checkpoint replays the whole journal too, then moves the
               commands processed before the cutoff), then VACUUM ANALYZE
               of the journal (what autovacuum would do);
  3. archived: the same start-up and `verify_book` (from the checkpoint);
               `--full-after` adds `verify_book --full` (archive + hot).

Prints the table sizes and timings; the database is dropped at the end.
Loopback PostgreSQL only (127.0.0.1:5432). Publishing and Celery stay off.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from io import StringIO
from pathlib import Path

from machine import cpu_model  # bench/machine.py: the script's own folder is on sys.path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.private_database import PG_SERVER, admin_sql, drop  # noqa: E402




FILL = """
SET session_replication_role = replica;
-- Resting bids, k = 1..R: BUY 1 @ 50.00 + (k mod 48), placed first, never filled.
INSERT INTO orders_order (id, user_id, symbol_id, client_order_id, side, type, time_in_force, post_only,
    self_trade_prevention, price, stop_price, quantity, filled_quantity, executed_quote, locked_asset,
    locked_amount, status, reject_reason, cancel_reason, triggered, sequence, created_at, updated_at)
SELECT k, %(buyer)s, %(symbol)s, '', 'BUY', 'LIMIT', 'GTC', false, 'CANCEL_TAKER', 50 + (k %% 48), NULL, 1, 0, 0,
    'USDT', 50 + (k %% 48), 'OPEN', '', '', false, k, %(start)s, %(start)s
FROM generate_series(1, %(resting)s) AS k;
-- Group g = 0..G-1: orders R+3g+1 (SELL 1 @ 100, rests, filled), R+3g+2 (BUY 1 @ 100, takes it),
-- R+3g+3 (BUY 1 @ 99, rests, cancelled).
INSERT INTO orders_order (id, user_id, symbol_id, client_order_id, side, type, time_in_force, post_only,
    self_trade_prevention, price, stop_price, quantity, filled_quantity, executed_quote, locked_asset,
    locked_amount, status, reject_reason, cancel_reason, triggered, sequence, created_at, updated_at)
SELECT %(resting)s + 3 * g + leg,
    CASE leg WHEN 1 THEN %(seller)s ELSE %(buyer)s END, %(symbol)s, '',
    CASE leg WHEN 1 THEN 'SELL' ELSE 'BUY' END, 'LIMIT', 'GTC', false, 'CANCEL_TAKER',
    CASE leg WHEN 3 THEN 99 ELSE 100 END, NULL, 1,
    CASE leg WHEN 3 THEN 0 ELSE 1 END, CASE leg WHEN 3 THEN 0 ELSE 100 END,
    CASE leg WHEN 1 THEN 'BTC' ELSE 'USDT' END, CASE leg WHEN 1 THEN 1 WHEN 2 THEN 100 ELSE 99 END,
    CASE leg WHEN 3 THEN 'CANCELLED' ELSE 'FILLED' END, '', CASE leg WHEN 3 THEN 'CANCELLED_BY_USER' ELSE '' END,
    false, CASE leg WHEN 1 THEN %(resting)s + 2 * g + 1 WHEN 3 THEN %(resting)s + 2 * g + 2 ELSE 0 END,
    %(start)s, %(start)s
FROM generate_series(0, %(groups)s - 1) AS g, generate_series(1, 3) AS leg;
INSERT INTO orders_trade (id, symbol_id, sequence, price, quantity, quote_quantity, taker_side, maker_order_id,
    taker_order_id, buyer_id, seller_id, buyer_fee, seller_fee, executed_at, settlement_status, settled_at,
    settlement_error)
SELECT g + 1, %(symbol)s, g + 1, 100, 1, 100, 'BUY', %(resting)s + 3 * g + 1, %(resting)s + 3 * g + 2,
    %(buyer)s, %(seller)s, 0, 0, %(start)s, 'SETTLED', %(start)s, ''
FROM generate_series(0, %(groups)s - 1) AS g;
-- The journal: one PLACE per resting bid, then four commands per group, in processing order.
INSERT INTO matching_enginecommand (id, symbol_id, kind, order_id, reason, quantity, price, stop_price,
    created_at, processed_at)
SELECT k, %(symbol)s, 'PLACE', k, '', 1, 50 + (k %% 48), NULL,
    %(start)s + (k - 1) * %(step)s * interval '1 second', %(start)s + (k - 1) * %(step)s * interval '1 second'
FROM generate_series(1, %(resting)s) AS k;
INSERT INTO matching_enginecommand (id, symbol_id, kind, order_id, reason, quantity, price, stop_price,
    created_at, processed_at)
SELECT n, %(symbol)s, CASE leg WHEN 4 THEN 'CANCEL' ELSE 'PLACE' END,
    %(resting)s + 3 * g + LEAST(leg, 3), '',
    CASE leg WHEN 4 THEN NULL ELSE 1 END, CASE leg WHEN 4 THEN NULL WHEN 3 THEN 99 ELSE 100 END, NULL,
    %(start)s + (n - 1) * %(step)s * interval '1 second', %(start)s + (n - 1) * %(step)s * interval '1 second'
FROM generate_series(0, %(groups)s - 1) AS g, generate_series(1, 4) AS leg,
     LATERAL (SELECT %(resting)s + 4 * g + leg AS n) AS numbered;
SET session_replication_role = origin;
SELECT setval(pg_get_serial_sequence('orders_order', 'id'), %(resting)s + 3 * %(groups)s);
SELECT setval(pg_get_serial_sequence('orders_trade', 'id'), GREATEST(%(groups)s, 1));
SELECT setval(pg_get_serial_sequence('matching_enginecommand', 'id'), %(resting)s + 4 * %(groups)s);
"""


def fill(commands: int, resting: int, days: float):
    """The matched history, written in SQL; returns the symbol."""
    from datetime import timedelta
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from matching.models import MatcherState
    from riskadmin.models import Symbol
    from riskadmin.services import upsert_symbol

    symbol = upsert_symbol(
        name="BTC/USDT", tick_size=Decimal("0.01"), step_size=Decimal("0.001"), min_quantity=Decimal("0.001"),
        min_notional=Decimal("1"), maker_fee=Decimal("0"), taker_fee=Decimal("0"),
    )
    users = get_user_model().objects
    seller, buyer = users.create(username="seller"), users.create(username="buyer")
    groups = max(0, (commands - resting) // 4)
    total = resting + 4 * groups
    span = timedelta(days=days).total_seconds()
    start = timezone.now() - timedelta(days=days)
    params = {
        "symbol": symbol.id, "seller": seller.id, "buyer": buyer.id, "resting": resting, "groups": groups,
        "start": start, "step": span / max(total, 1),
    }
    with connection.cursor() as cursor:
        for statement in FILL.split(";\n"):
            if statement.strip():
                cursor.execute(statement, params)
        cursor.execute("VACUUM ANALYZE")
    Symbol.objects.filter(id=symbol.id).update(last_price=Decimal("100") if groups else None)
    MatcherState.objects.update_or_create(
        symbol=symbol,
        defaults={"book_sequence": total, "trade_sequence": groups, "order_sequence": resting + 2 * groups},
    )
    return Symbol.objects.get(id=symbol.id), total, groups


def startup_seconds(symbol) -> float:
    """Matcher.load() (books, state, unsettled trades) and its first look at the journal."""
    from django.db import connection

    from matching.host import Matcher, next_commands

    runs = []
    for _ in range(3):
        connection.close()  # a new process starts with a new connection
        started = time.perf_counter()
        matcher = Matcher([symbol.id])
        matcher.load()
        next_commands([symbol.id], 500)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def timed_command(*args) -> tuple[float, str]:
    from django.core.management import call_command

    out = StringIO()
    started = time.perf_counter()
    call_command(*args, stdout=out, stderr=out)
    return time.perf_counter() - started, out.getvalue().strip()


def sizes() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, n_live_tup, pg_size_pretty(pg_total_relation_size(relid)) FROM pg_stat_user_tables"
            " WHERE relname IN ('matching_enginecommand', 'matching_archivedcommand') ORDER BY relname"
        )
        return ", ".join(f"{name}: {rows:,} rows, {size}" for name, rows, size in cursor.fetchall())


def vacuum_journal() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE matching_enginecommand")
        cursor.execute("VACUUM ANALYZE matching_archivedcommand")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=1_000_000)
    parser.add_argument("--resting", type=int, default=10_000, help="bids left resting in the book")
    parser.add_argument("--days", type=float, default=10.0, help="processed_at spread over this many past days")
    parser.add_argument("--retention-days", type=float, default=1.0)
    parser.add_argument("--full-after", action="store_true", help="also time verify_book --full after archiving")
    args = parser.parse_args()

    db_name = f"te_bench_{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "DATABASE_URL": f"{PG_SERVER}/{db_name}",
        "MARKETDATA_PUBLISH": "false",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "WALLET_SERVICE_URL": "",
        "DJANGO_SETTINGS_MODULE": "tradeengine.settings",
    }
    os.environ.update(env)
    admin_sql(f'CREATE DATABASE "{db_name}"')
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)
        import django

        django.setup()

        started = time.perf_counter()
        symbol, total, groups = fill(args.commands, args.resting, args.days)
        print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}")
        print(f"filled {total:,} processed commands, {args.resting + 3 * groups:,} orders, {groups:,} trades"
              f" over {args.days:g} days in {time.perf_counter() - started:.0f}s (not timed below)")
        print(f"hot:      {sizes()}")
        print(f"  matcher start-up (load + first next_commands, median of 3): {startup_seconds(symbol) * 1000:.0f} ms")
        seconds, out = timed_command("verify_book")
        print(f"  verify_book: {seconds:.1f}s  [{out}]")

        seconds, out = timed_command("archive_journal", "--retention-days", str(args.retention_days))
        vacuum_journal()
        print(f"archive_journal --retention-days {args.retention_days:g}: {seconds:.1f}s  [{out}]")
        print(f"archived: {sizes()}")
        print(f"  matcher start-up (load + first next_commands, median of 3): {startup_seconds(symbol) * 1000:.0f} ms")
        seconds, out = timed_command("verify_book")
        print(f"  verify_book (from the checkpoint): {seconds:.1f}s  [{out}]")
        if args.full_after:
            seconds, out = timed_command("verify_book", "--full")
            print(f"  verify_book --full (archive + hot): {seconds:.1f}s  [{out}]")
        print(f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min, at the end)")
    finally:
        drop(db_name)


if __name__ == "__main__":
    main()
