"""Benchmark of the pure matching core (matching/engine), no database or I/O.

    python bench/engine_bench.py [--ops 1000000] [--seed 42] [--runs 5] [--skip-stops] [--skip-fok]
    python bench/engine_bench.py --deep 50000 [--ops 200000] [--runs 3]

A seeded command stream (about 60% limit, 25% cancel of a live order, 10%
market, 5% IOC) is generated first, and its orders are built before the clock
starts; then the stream is replayed into a fresh engine, timing only the
engine calls. The engine is drained every 100 commands, as the matcher does
once per batch. Separate passes measure per-command latency (every command
timed with perf_counter_ns) and memory (tracemalloc), so neither instrument
slows the throughput figure. Finally the stop book's trigger check is timed
with 10k and 100k untriggered stops resting, and the stream is replayed again
with those stops waiting in the engine. Last, a FOK order's pre-check is
timed against 1k and 100k price levels.

`--deep N` measures only the cyclic garbage collector's share on a deep
book: N resting orders that the stream never reaches are loaded first, then
the stream is replayed with the GC as CPython sets it up and with the loaded
book frozen (gc.freeze) under default and raised thresholds, side by side.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from matching.engine import MatchingEngine, Order  # noqa: E402
from matching.engine import constants as c  # noqa: E402
from machine import cpu_model  # bench/machine.py: the script's own folder is on sys.path

BATCH = 100  # commands per drain, like one matcher batch
MID = 100_000  # ticks: 1000.00 at a 0.01 tick
USERS = 1000

# ---------------------------------------------------------------- the stream
# A command is ("cancel", order_id) or ("place", id, user, side, qty, price,
# type, time_in_force, quote_budget). Cancels pick an order that is live at
# that point: the generator runs its own engine to know which ones are.


def generate(ops: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    shadow = MatchingEngine()
    live: list[int] = []  # GTC limit ids that may still rest (checked lazily)
    commands: list[tuple] = []
    mid = MID
    next_id = 1
    for i in range(ops):
        if rng.random() < 0.05:  # the mid drifts slowly
            mid += rng.choice((-1, 1))
        roll = rng.random()
        cmd = None
        if roll < 0.25:  # cancel a random live order
            while live and cmd is None:
                k = rng.randrange(len(live))
                live[k], live[-1] = live[-1], live[k]
                candidate = live.pop()
                if candidate in shadow.resting:
                    cmd = ("cancel", candidate)
            if cmd is None:
                roll = 0.5  # nothing live to cancel: place a limit instead
        if cmd is None:
            side = c.BUY if rng.random() < 0.5 else c.SELL
            sign = -1 if side == c.BUY else 1  # passive bids sit below the mid, asks above
            user = rng.randint(1, USERS)
            if roll < 0.85:  # GTC limit
                if rng.random() < 0.15:  # marketable: crosses the spread
                    price = mid - sign * rng.randint(1, 4)
                else:
                    price = mid + sign * (1 + int(rng.expovariate(1 / 8)))
                qty = 1 + int(rng.expovariate(1 / 10))
                cmd = ("place", next_id, user, side, qty, price, c.LIMIT, c.GTC, None)
                live.append(next_id)
            elif roll < 0.95:  # market; half the buys carry a quote budget
                qty = 1 + int(rng.expovariate(1 / 6))
                budget = qty * (mid + 10) if side == c.BUY and rng.random() < 0.5 else None
                cmd = ("place", next_id, user, side, qty, None, c.MARKET, c.GTC, budget)
            else:  # IOC limit up to a few ticks through the mid
                qty = 1 + int(rng.expovariate(1 / 8))
                price = mid - sign * rng.randint(0, 5)
                cmd = ("place", next_id, user, side, qty, price, c.LIMIT, c.IOC, None)
            next_id += 1
        commands.append(cmd)
        if cmd[0] == "cancel":
            shadow.cancel(cmd[1])
        else:
            shadow.place(build(cmd))
        if i % BATCH == BATCH - 1:
            shadow.drain()
    return commands


def build(cmd: tuple) -> Order:
    _, order_id, user, side, qty, price, kind, tif, budget = cmd
    return Order(order_id, user, side, qty, price, type=kind, time_in_force=tif, quote_budget=budget)


def materialize(commands: list[tuple], engine: MatchingEngine) -> list[tuple]:
    """Calls ready to make on `engine`: (engine.place, fresh Order) or
    (engine.cancel, order id), so the timed loop only calls."""
    place, cancel = engine.place, engine.cancel
    return [(cancel, cmd[1]) if cmd[0] == "cancel" else (place, build(cmd)) for cmd in commands]


def run_batches(calls: list[tuple], engine: MatchingEngine) -> tuple[float, int]:
    """Make the calls, draining after every BATCH of them; (seconds, trades)."""
    batches = [calls[i : i + BATCH] for i in range(0, len(calls), BATCH)]
    drain = engine.drain
    trades = 0
    gc.collect()
    start = time.perf_counter()
    for batch in batches:
        for call, arg in batch:
            call(arg)
        trades += len(drain()[0])
    return time.perf_counter() - start, trades


# ---------------------------------------------------------------- the passes


def run_throughput(commands: list[tuple]) -> tuple[float, int, MatchingEngine]:
    engine = MatchingEngine("BENCH")
    elapsed, trades = run_batches(materialize(commands, engine), engine)
    return elapsed, trades, engine


def run_latency(commands: list[tuple]) -> list[int]:
    """Nanoseconds of every single command (drain time not included)."""
    engine = MatchingEngine("BENCH")
    calls = materialize(commands, engine)
    drain = engine.drain
    clock = time.perf_counter_ns
    samples = [0] * len(calls)
    gc.collect()
    for i, (call, arg) in enumerate(calls):
        t0 = clock()
        call(arg)
        samples[i] = clock() - t0
        if i % BATCH == BATCH - 1:
            drain()
    return samples


def timer_overhead() -> int:
    clock = time.perf_counter_ns
    best = []
    for _ in range(100_000):
        t0 = clock()
        best.append(clock() - t0)
    best.sort()
    return best[len(best) // 2]


def run_memory(commands: list[tuple]) -> tuple[int, int]:
    """Peak bytes traced (tracemalloc) while the engine runs the stream.

    Orders are built one per command inside the traced run, as the matcher
    builds them from its rows, and dropped after each drain unless they rest;
    so the peak is the engine's working set: the resting orders, their levels,
    queues, dicts and heaps, and one batch of trades and changed orders. The
    command list itself is allocated before tracing starts.
    """
    engine = MatchingEngine("BENCH")
    gc.collect()
    tracemalloc.start()
    for i, cmd in enumerate(commands):
        if cmd[0] == "place":
            engine.place(build(cmd))
        else:
            engine.cancel(cmd[1])
        if i % BATCH == BATCH - 1:
            engine.drain()
    engine.drain()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, current


def percentile(sorted_values: list[int], q: float) -> int:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


# ---------------------------------------------------------------- stop checks


def stop_orders(resting: int, seed: int, first_id: int, last: int, gap: int) -> list[Order]:
    """`resting` stop-market orders, half buys above `last + gap`, half sells
    below `last - gap`, each at a stop price of its own."""
    rng = random.Random(seed)
    half = resting // 2
    buys = rng.sample(range(last + gap, last + gap + half), half)
    sells = rng.sample(range(last - gap - (resting - half), last - gap), resting - half)
    orders = []
    for i, stop_price in enumerate(buys + sells):
        side = c.BUY if i < half else c.SELL
        orders.append(
            Order(first_id + i, 1 + i % USERS, side, 1, None, type=c.STOP_MARKET, stop_price=stop_price)
        )
    return orders


def stop_bench(resting: int, seed: int) -> None:
    """Time StopBook.pop_triggered(last) directly, idle and when k stops fire."""
    engine = MatchingEngine("STOPS")
    last = MID
    engine.last_price = last
    for order in stop_orders(resting, seed, 1, last, 1):
        engine.place(order)
    engine.drain()
    stops = engine.stops
    assert len(stops) == resting
    pop = stops.pop_triggered
    clock = time.perf_counter_ns

    calls = 200_000
    gc.collect()
    t0 = clock()
    for _ in range(calls):
        pop(last)
    idle_ns = (clock() - t0) / calls
    assert len(stops) == resting
    print(f"  {resting:>7,} stops resting, nothing fires: {idle_ns / 1000:7.3f} us per check ({calls:,} checks)")

    buy_prices = sorted(o.stop_price for o in stops.orders() if o.side == c.BUY)
    for k in (1, 10, 100, 1000):
        rounds = 500 if k <= 100 else 50
        trigger = buy_prices[k - 1]  # the k lowest buy stops fire
        total_ns = 0
        for _ in range(rounds):
            t0 = clock()
            fired = pop(trigger)
            total_ns += clock() - t0
            assert len(fired) == k
            for order in fired:  # put them back for the next round (not timed)
                stops.add(order)
        per_check = total_ns / rounds
        print(
            f"  {resting:>7,} stops resting, {k:>4} fire:       {per_check / 1000:7.1f} us per check,"
            f" {per_check / k / 1000:6.2f} us per fired stop"
        )


def throughput_with_stops(commands: list[tuple], resting: int, seed: int) -> None:
    """The main stream again, with `resting` stops that never fire waiting."""
    far = MID * 2 // 5  # 40% away from the mid: out of reach of the stream
    results = []
    for _ in range(3):
        engine = MatchingEngine("BENCH")
        for order in stop_orders(resting, seed, 10**9, MID, far):
            engine.place(order)
        engine.drain()
        elapsed, _ = run_batches(materialize(commands, engine), engine)
        results.append(elapsed)
        assert len(engine.stops) == resting
    results.sort()
    print(
        f"  {resting:>7,} stops resting: best {len(commands) / results[0]:,.0f} ops/s,"
        f" median {len(commands) / results[1]:,.0f} ops/s"
    )


# ---------------------------------------------------------------- deep book

DEFAULT_THRESHOLDS = (700, 10, 10)
# (name, freeze the loaded book, gc thresholds); the last is what run_matcher sets.
GC_MODES = (
    ("gc default", False, DEFAULT_THRESHOLDS),
    ("book frozen", True, DEFAULT_THRESHOLDS),
    ("frozen + thresholds", True, (50_000, 20, 100)),
)


def deep_orders(resting: int, first_id: int) -> list[Order]:
    """Resting limits far from the mid (the stream never reaches them), one
    lot each on a few thousand levels per side, as a loaded book holds."""
    orders = []
    for i in range(resting):
        side = c.BUY if i % 2 else c.SELL
        away = 2_000 + (i // 2) % 5_000
        price = MID - away if side == c.BUY else MID + away
        orders.append(Order(first_id + i, 1 + i % USERS, side, 1, price))
    return orders


class GcClock:
    """Collections and the time spent in them, from gc.callbacks."""

    def __init__(self) -> None:
        self.pauses: list[int] = []
        self.full = 0
        self._t0 = 0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._t0 = time.perf_counter_ns()
        else:
            self.pauses.append(time.perf_counter_ns() - self._t0)
            self.full += info["generation"] == 2


def deep_run(commands: list[tuple], resting: int, freeze: bool, thresholds: tuple):
    """One replay of the stream into an engine holding `resting` orders:
    (seconds, sorted per-command ns, collections seen). Every command is timed
    on its own (each 100th with its drain); the clock is a small share."""
    gc.unfreeze()
    gc.set_threshold(*DEFAULT_THRESHOLDS)
    gc.collect()
    engine = MatchingEngine("DEEP")
    gc.freeze()  # the benchmark's own stream: not the engine's cost in any mode
    for order in deep_orders(resting, 10**9):
        engine.place(order)
    engine.drain()
    if freeze:
        gc.collect()
        gc.freeze()
    gc.set_threshold(*thresholds)
    clock = GcClock()
    gc.callbacks.append(clock)
    # Each order is built inside the run, as the matcher builds one per
    # command, so the collector sees the matcher's allocation pattern.
    place, cancel, drain = engine.place, engine.cancel, engine.drain
    timer = time.perf_counter_ns
    samples = [0] * len(commands)
    try:
        started = timer()
        for i, cmd in enumerate(commands):
            t0 = timer()
            if cmd[0] == "place":
                place(build(cmd))
            else:
                cancel(cmd[1])
            if i % BATCH == BATCH - 1:
                drain()
            samples[i] = timer() - t0
        elapsed = (timer() - started) / 1e9
    finally:
        gc.callbacks.remove(clock)
        gc.set_threshold(*DEFAULT_THRESHOLDS)
        gc.unfreeze()
    assert len(engine.resting) >= resting
    return elapsed, sorted(samples), clock


def deep_bench(commands: list[tuple], resting: int, runs: int) -> None:
    print(f"\ndeep book: {resting:,} resting orders loaded before the stream (out of its reach)")
    print(f"  {'mode':<20} {'thresholds':<17} {'best ops/s':>11} {'median':>11} {'p99 us':>8} {'p99.9 us':>9}"
          f" {'max us':>9} {'GCs':>6} {'full':>5} {'GC ms':>7}")
    for name, freeze, thresholds in GC_MODES:
        times, samples, clock = [], [], None
        for _ in range(runs):
            elapsed, run_samples, clock = deep_run(commands, resting, freeze, thresholds)
            times.append(elapsed)
            samples = max(samples, run_samples, key=lambda s: percentile(s, 0.99) if s else 0)
        times.sort()
        print(
            f"  {name:<20} {str(thresholds):<17} {len(commands) / times[0]:>11,.0f} {len(commands) / times[len(times) // 2]:>11,.0f}"
            f" {percentile(samples, 0.99) / 1000:>8.2f} {percentile(samples, 0.999) / 1000:>9.2f} {samples[-1] / 1000:>9.1f}"
            f" {len(clock.pauses):>6} {clock.full:>5} {sum(clock.pauses) / 1e6:>7.1f}"
        )
    print("  (GCs, full, GC ms: collections during the last run; p99 of the run with the worst p99)")


# ---------------------------------------------------------------- main


# ------------------------------------------------------------ FOK pre-check


def fok_bench(levels: int) -> None:
    """A FOK buy against `levels` one-lot ask levels: filled from the top 3
    levels, or cancelled because the top levels under its price fall short."""
    engine = MatchingEngine()
    for n in range(levels):
        engine.place(Order(n + 1, 2, c.SELL, 1, MID + n))
    engine.drain()
    calls = 2000
    started = time.perf_counter_ns()
    for i in range(calls):  # cancelled: 5 lots wanted, 4 levels at or under its price
        engine.place(Order(10**8 + i, 1, c.BUY, 5, MID + 3, time_in_force=c.FOK))
    short = (time.perf_counter_ns() - started) / calls
    engine.drain()
    print(f"  {levels:>7,} ask levels: {short / 1000:6.2f} us per FOK order that falls short (checked, cancelled)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=1_000_000, help="commands in the stream")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the stream")
    parser.add_argument("--runs", type=int, default=5, help="timed throughput runs (best and median shown)")
    parser.add_argument("--skip-stops", action="store_true", help="skip the stop-trigger benchmark")
    parser.add_argument("--skip-fok", action="store_true", help="skip the FOK pre-check benchmark")
    parser.add_argument("--deep", type=int, default=0, metavar="N",
                        help="only the GC comparison on a book of N resting orders (e.g. 50000)")
    args = parser.parse_args()

    print(f"machine: {platform.platform()}; {cpu_model()}; {os.cpu_count()} cpus")
    print(f"python:  {platform.python_implementation()} {platform.python_version()}")
    print(f"load:    {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min, at start)")
    print(f"stream:  {args.ops:,} commands, seed {args.seed}, drain every {BATCH}")

    t0 = time.perf_counter()
    commands = generate(args.ops, args.seed)
    kinds = {"limit": 0, "cancel": 0, "market": 0, "ioc": 0}
    for cmd in commands:
        if cmd[0] == "cancel":
            kinds["cancel"] += 1
        elif cmd[6] == c.MARKET:
            kinds["market"] += 1
        elif cmd[7] == c.IOC:
            kinds["ioc"] += 1
        else:
            kinds["limit"] += 1
    mix = ", ".join(f"{k} {100 * v / len(commands):.1f}%" for k, v in kinds.items())
    print(f"         generated in {time.perf_counter() - t0:.1f} s (not timed): {mix}")
    if args.deep:
        deep_bench(commands, args.deep, args.runs)
        print(f"\nload:    {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min, at the end)")
        return

    print("\nthroughput (engine calls only):")
    results = []
    for attempt in range(args.runs):
        elapsed, trades, engine = run_throughput(commands)
        results.append(elapsed)
        print(f"  run {attempt + 1}: {args.ops / elapsed:>10,.0f} ops/s  ({elapsed:.3f} s, {trades:,} trades)")
    best = min(results)
    median = sorted(results)[len(results) // 2]
    print(f"  best: {args.ops / best:,.0f} ops/s; median: {args.ops / median:,.0f} ops/s")
    print(
        f"  final book: {len(engine.resting):,} resting orders, {len(engine.bids)} bid / {len(engine.asks)} ask levels,"
        f" best {engine.best_bid()} / {engine.best_ask()}"
    )

    print("\nlatency (every command timed with perf_counter_ns in a separate pass):")
    samples = run_latency(commands)
    overhead = timer_overhead()
    places = sorted(s for s, cmd in zip(samples, commands) if cmd[0] == "place")
    cancels = sorted(s for s, cmd in zip(samples, commands) if cmd[0] == "cancel")
    samples.sort()
    for name, values in (("all", samples), ("place", places), ("cancel", cancels)):
        print(
            f"  {name:<6} p50 {percentile(values, 0.50) / 1000:6.2f} us  p99 {percentile(values, 0.99) / 1000:6.2f} us"
            f"  p99.9 {percentile(values, 0.999) / 1000:7.2f} us  max {values[-1] / 1000:9.1f} us"
        )
    print(f"  (includes the timer's own cost, median {overhead} ns per reading pair)")

    print("\nmemory:")
    peak, current = run_memory(commands)
    print(f"  engine working set, tracemalloc peak: {peak / 2**20:.1f} MiB (at the end {current / 2**20:.1f} MiB)")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"  process max RSS (getrusage, whole benchmark incl. the pre-generated streams): {maxrss / 1024:.0f} MiB")

    if not args.skip_stops:
        print("\nstop trigger check, StopBook.pop_triggered(last) timed directly:")
        for resting in (10_000, 100_000):
            stop_bench(resting, args.seed)
        print("\nthroughput of the same stream with untriggered stops resting (they never fire):")
        for resting in (10_000, 100_000):
            throughput_with_stops(commands, resting, args.seed)
    if not args.skip_fok:
        print("\nFOK pre-check, MatchingEngine.place of a FOK order timed directly:")
        for levels in (1_000, 100_000):
            fok_bench(levels)
    print(f"\nload:    {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min, at the end)")


if __name__ == "__main__":
    main()
