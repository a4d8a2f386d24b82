"""Market-maker benchmark: makers requoting L levels a side, takers crossing
the spread, at a target rate of order operations for a set time.

    python bench/marketmaker.py --start --mode batch --rate 1000 --seconds 60
    python bench/marketmaker.py --start --mode batch --rate 500 --seconds 30
    python bench/marketmaker.py --start --mode single --rate 50 --seconds 30
    python bench/marketmaker.py --start --compare single,amend,batch --rate 100 --seconds 20
    python bench/marketmaker.py --start --market BTC/USDT:50000:0.001 --market ETH/USDT:3000:0.01
    python bench/marketmaker.py --url http://127.0.0.1:8000 --mode amend --rate 30   # a running exchange

--start and --url work as in bench/load.py (throwaway database, `run_web`,
matcher and Celery worker, raised rate limits; or a running exchange and
its database). --makers maker users each quote --levels price levels a side
around a mid price that moves a step each requote (one or more --market
SYMBOL:MID:QUANTITY, makers and takers spread over them); --takers taker
users send IOC LIMIT orders priced a level through the spread, so a share
(--taker-share of the operations) of the quotes trade. How a maker requotes
is the mode:

- batch: one `POST /api/v1/orders/batch` per requote, cancelling its
  previous quotes by client_order_id and placing 2 x levels new ones (20 per
  request by default); takers send their orders --taker-batch at a time.
- amend: one `PATCH /api/v1/orders/{id}` per quote (the new price); a quote
  found filled is placed again with `POST /api/v1/orders`. Takers POST each.
- single: `DELETE /api/v1/orders` (the maker's own, cancel-all), then one
  `POST /api/v1/orders` per quote. Takers POST each.

--compare runs several modes one after the other on the same exchange (each
maker's orders cancelled and everything settled in between) and prints them
side by side. --rate counts order operations (orders placed and amends;
cancels ride along and are counted apart). The schedule is open loop: the
operation n is due at start + n / rate; a maker requotes once its previous
requote is answered, and at most --concurrency requests are in flight, so
an exchange that is slower than the rate makes the sends fall behind (the
achieved rate shows it). A progress line is written every half second.

Reported per mode: operations sent and accepted (placed or amended, not
REJECTED) per second, trades per second (matched) and trades settled per
second during the load, errors by code (a cancel or amend that finds the
quote already filled is counted apart, as "stale"), latency per request by
kind (p50/p95/p99/max, send to response), the matcher backlog (unprocessed
engine commands, sampled every second: max and at the end of the load), the
settlement lag (from the last response until the matcher has applied every
command and no trade of the run is left PENDING, polled every 0.1 s) and CPU ms per accepted operation by process
(web, matcher, worker with their children, PostgreSQL by the process it
serves, Redis, this client), from the start of the load to the end of
settlement. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.load import (  # noqa: E402
    BACKLOG_SQL, add_exchange_arguments, cpu_seconds, cpu_spent, create_users, log_in_all, open_exchange, percentile,
    sample_backlog,
)
from bench.machine import cpu_model  # noqa: E402

MODES = ("batch", "amend", "single")
# Sampled every second during the load: the backlog, and the newest trade (progress only).
SAMPLE_SQL = f"SELECT ({BACKLOG_SQL}), (SELECT coalesce(max(id), 0) FROM orders_trade)"
# The run's trades, those settled, and what is left to do: trades PENDING
# settlement plus commands the matcher has not applied yet (they may trade).
SETTLEMENT_SQL = (
    "SELECT count(*), count(*) FILTER (WHERE settlement_status = 'SETTLED'),"
    f" count(*) FILTER (WHERE settlement_status = 'PENDING') + ({BACKLOG_SQL}) FROM orders_trade WHERE id > %s"
)
# A cancel or amend of a quote that a taker filled first.
STALE = "ORDER_NOT_CANCELLABLE"
LIVE = ("PENDING", "OPEN", "PARTIALLY_FILLED")


@dataclass
class Market:
    symbol: str
    mid: Decimal
    quantity: str
    start: Decimal = Decimal(0)

    @classmethod
    def parse(cls, text: str) -> "Market":
        symbol, mid, quantity = text.split(":")
        return cls(symbol, Decimal(mid), quantity, Decimal(mid))

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]


@dataclass
class Quote:
    client_order_id: str
    order_id: int | None = None
    live: bool = True


@dataclass
class Trader:
    headers: dict
    market: Market
    # Its own few connections: httpx's pool scans every connection it holds
    # on each request, so one pool of --concurrency connections costs the
    # client several ms of CPU per request.
    client: httpx.AsyncClient


@dataclass
class Maker(Trader):
    index: int = 0
    quotes: list[Quote | None] = field(default_factory=list)  # bids first, then asks
    ticks: int = 0


class Tally:
    """What the load did: operations, outcomes, errors, latencies by request kind."""

    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.errors: Counter = Counter()
        self.latencies: dict[str, list[float]] = {}
        self.accepted_at: deque = deque()  # (monotonic time, operations), for the current rate
        self.recent: deque = deque(maxlen=2000)  # latencies, for the progress line

    def request(self, kind: str, elapsed: float) -> None:
        self.latencies.setdefault(kind, []).append(elapsed)
        self.recent.append(elapsed)

    def accepted(self, operations: int = 1) -> None:
        self.counts["accepted"] += operations
        self.accepted_at.append((time.monotonic(), operations))

    def error(self, code: str, operations: int = 1) -> None:
        self.counts["errors"] += operations
        self.errors[code] += operations

    def order_outcome(self, order: dict) -> bool:
        """Count one answered order; True when it stands (not REJECTED)."""
        if order["status"] == "REJECTED":
            self.error(f"REJECTED {order.get('reject_reason') or ''}".strip())
            return False
        self.accepted()
        self.counts["pending"] += order["status"] == "PENDING"
        return True

    def failed_response(self, response: httpx.Response, operations: int = 1) -> str:
        """Count a refused request (its operations, for a batch) by error code."""
        try:
            code = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = f"HTTP {response.status_code}"
        if code == STALE:
            self.counts["stale"] += 1
        else:
            self.error(code, operations)
        return code

    def rate_last_second(self) -> int:
        horizon = time.monotonic() - 1
        while self.accepted_at and self.accepted_at[0][0] < horizon:
            self.accepted_at.popleft()
        return sum(n for _, n in self.accepted_at)


class Load:
    """One mode's run: the makers' and takers' requests."""

    def __init__(self, url: str, args, mode: str, tag: str,
                 makers: list[Maker], takers: list[Trader], trade_base: int) -> None:
        self.url, self.args, self.mode, self.tag = url, args, mode, tag
        self.makers, self.takers = makers, takers
        self.trade_base = trade_base  # the newest trade before the load
        self.tally = Tally()
        self.in_flight = asyncio.Semaphore(args.concurrency)
        self.rng = random.Random(args.seed)
        self.sends = 0

    # -- requests ------------------------------------------------------------

    async def send(self, kind: str, method: str, path: str, trader: Trader, body=None,
                   operations: int = 1) -> httpx.Response | None:
        """One request; None when it failed (counted against its `operations`)."""
        async with self.in_flight:
            self.tally.counts["requests"] += 1
            sent = time.perf_counter()
            try:
                response = await trader.client.request(method, f"{self.url}{path}", json=body, headers=trader.headers)
            except httpx.HTTPError as exc:
                self.tally.error(type(exc).__name__, operations)
                return None
            self.tally.request(kind, time.perf_counter() - sent)
            return response

    def order_body(self, market: Market, side: str, price: Decimal, **extra) -> dict:
        return {"symbol": market.symbol, "side": side, "type": "LIMIT", "quantity": market.quantity,
                "price": f"{price:.2f}", **extra}

    def quote_prices(self, market: Market) -> list[tuple[str, Decimal]]:
        """Where a maker quotes now: --levels bids below the mid, as many asks above."""
        a = self.args
        bids = [("BUY", market.mid - a.half_spread - i * a.level_spacing) for i in range(a.levels)]
        asks = [("SELL", market.mid + a.half_spread + i * a.level_spacing) for i in range(a.levels)]
        return bids + asks

    def move_mid(self, market: Market) -> None:
        """A step up or down, kept within --wander of where it started."""
        step = self.args.mid_step * self.rng.choice((-1, 1))
        if abs(market.mid + step - market.start) > self.args.wander:
            step = -step
        market.mid += step

    def new_quote(self, maker: Maker, slot: int) -> Quote:
        return Quote(f"{self.tag}-{maker.index}-{maker.ticks}-{slot}")

    async def place(self, kind: str, trader: Trader, body: dict) -> dict | None:
        """`POST /api/v1/orders`; the order, or None when refused."""
        response = await self.send(kind, "POST", "/api/v1/orders", trader, body)
        if response is None:
            return None
        if response.status_code not in (200, 201, 202):
            self.tally.failed_response(response)
            return None
        order = response.json()
        return order if self.tally.order_outcome(order) else None

    # -- makers --------------------------------------------------------------

    async def requote(self, maker: Maker, due: float, spacing: float) -> None:
        self.move_mid(maker.market)
        prices = self.quote_prices(maker.market)
        maker.ticks += 1
        if self.mode == "batch":
            await self.requote_batch(maker, prices)
        elif self.mode == "single":
            response = await self.send_checked("cancel-all DELETE", "DELETE", "/api/v1/orders", maker)
            if response is not None:
                self.tally.counts["cancelled"] += len(response.json()["cancelled"])
            await self.each_at(due, spacing, [self.place_quote(maker, slot, side, price)
                                              for slot, (side, price) in enumerate(prices)])
        else:
            await self.each_at(due, spacing, [self.amend_quote(maker, slot, side, price)
                                              for slot, (side, price) in enumerate(prices)])

    async def each_at(self, due: float, spacing: float, steps: list) -> None:
        """Start the requests of one requote one per `spacing` s from `due`, as
        a single-order client would, then wait for them all."""
        tasks = []
        for i, step in enumerate(steps):
            delay = due + i * spacing - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.sends += 1
            tasks.append(asyncio.create_task(step))
        await asyncio.gather(*tasks)

    async def send_checked(self, kind: str, method: str, path: str, trader: Trader, body=None,
                           operations: int = 1) -> httpx.Response | None:
        """A request; when refused, its `operations` count as errors (a batch's orders)."""
        response = await self.send(kind, method, path, trader, body, operations)
        if response is not None and response.status_code >= 300:
            self.tally.failed_response(response, operations)
            return None
        return response

    async def requote_batch(self, maker: Maker, prices: list[tuple[str, Decimal]]) -> None:
        cancels = [{"client_order_id": q.client_order_id} for q in maker.quotes if q is not None and q.live]
        quotes = [self.new_quote(maker, slot) for slot in range(len(prices))]
        orders = [self.order_body(maker.market, side, price, client_order_id=q.client_order_id)
                  for q, (side, price) in zip(quotes, prices)]
        self.sends += len(orders)
        response = await self.send_checked("maker batch", "POST", "/api/v1/orders/batch", maker,
                                           {"cancel": cancels, "orders": orders}, len(orders))
        if response is None:
            return  # the previous quotes stand (or are cancelled by id next time)
        answer = response.json()
        maker.quotes = [None] * len(prices)
        self.count_cancels(answer.get("cancelled", []))
        for slot, (quote, item) in enumerate(zip(quotes, answer.get("orders", []))):
            if self.batch_item(item):
                quote.order_id, quote.live = item["order"]["id"], item["order"]["status"] in LIVE
                maker.quotes[slot] = quote

    def count_cancels(self, items: list[dict]) -> None:
        for item in items:
            if "error" not in item:
                self.tally.counts["cancelled"] += 1
            elif item["error"].get("code") == STALE:
                self.tally.counts["stale"] += 1
            else:
                self.tally.error(f"cancel {item['error'].get('code')}")

    def batch_item(self, item: dict) -> bool:
        if "error" in item:
            self.tally.error(item["error"].get("code", "?"))
            return False
        return self.tally.order_outcome(item["order"])

    async def place_quote(self, maker: Maker, slot: int, side: str, price: Decimal) -> None:
        quote = self.new_quote(maker, slot)
        body = self.order_body(maker.market, side, price, client_order_id=quote.client_order_id)
        order = await self.place("maker POST", maker, body)
        if order is not None:
            quote.order_id, quote.live = order["id"], order["status"] in LIVE
        maker.quotes[slot] = quote if order is not None else None

    async def amend_quote(self, maker: Maker, slot: int, side: str, price: Decimal) -> None:
        quote = maker.quotes[slot]
        if quote is not None and quote.live:
            response = await self.send("maker PATCH", "PATCH", f"/api/v1/orders/{quote.order_id}", maker,
                                       {"price": f"{price:.2f}"})
            if response is None:
                return
            if response.status_code in (200, 202):
                order = response.json()
                quote.live = order["status"] in LIVE
                self.tally.accepted()
                return
            if self.tally.failed_response(response) != STALE:
                return
        await self.place_quote(maker, slot, side, price)  # first requote, or the quote was filled

    # -- takers --------------------------------------------------------------

    def taker_order(self, market: Market, n: int) -> dict:
        """An IOC LIMIT a level through the best quote: it takes one quote's quantity."""
        through = self.args.half_spread + self.args.level_spacing
        side, price = ("BUY", market.mid + through) if n % 2 == 0 else ("SELL", market.mid - through)
        return self.order_body(market, side, price, time_in_force="IOC")

    async def take(self, n: int, size: int) -> None:
        taker = self.takers[n // size % len(self.takers)]
        orders = [self.taker_order(taker.market, n + i) for i in range(size)]
        self.sends += size
        if self.mode != "batch":
            await self.place("taker POST", taker, orders[0])
            return
        response = await self.send_checked("taker batch", "POST", "/api/v1/orders/batch", taker, {"orders": orders},
                                           len(orders))
        if response is not None:
            for item in response.json().get("orders", []):
                self.batch_item(item)

    # -- the schedule --------------------------------------------------------

    async def run(self, backlog: list, started_load) -> dict:
        a = self.args
        per_requote = 2 * a.levels
        taker_size = a.taker_batch if self.mode == "batch" else 1
        idle: asyncio.Queue = asyncio.Queue()
        for maker in self.makers:
            idle.put_nowait(maker)
        tasks: set[asyncio.Task] = set()

        async def requote_then_free(maker: Maker, due: float) -> None:
            try:
                await self.requote(maker, due, 1 / a.rate)
            finally:
                idle.put_nowait(maker)

        def launch(coroutine) -> None:
            task = asyncio.create_task(coroutine)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        started_load()
        self.started = time.monotonic()
        deadline = self.started + a.seconds
        operations = taker_operations = takes = 0
        progress = asyncio.create_task(self.progress(backlog))
        try:
            while True:
                due = self.started + operations / a.rate
                if due >= deadline or time.monotonic() >= deadline:
                    break
                if (delay := due - time.monotonic()) > 0:
                    await asyncio.sleep(delay)
                if taker_operations < a.taker_share * (operations + taker_size):
                    launch(self.take(takes * taker_size, taker_size))
                    takes += 1
                    taker_operations += taker_size
                    operations += taker_size
                else:
                    self.tally.counts["makers_all_busy"] += idle.empty()
                    maker = await idle.get()  # every maker busy: the sends fall behind
                    launch(requote_then_free(maker, max(due, time.monotonic())))
                    operations += per_requote
            self.send_window = time.monotonic() - self.started
            if tasks:
                await asyncio.wait(tasks, timeout=a.timeout + per_requote / a.rate + 1)
            for task in tasks:
                task.cancel()
            self.tally.counts["unfinished"] = len(tasks)
            self.ended = time.monotonic()
            self.elapsed = self.ended - self.started
        finally:
            progress.cancel()
        self.print_progress(backlog, final=True)
        return self.summary()

    async def progress(self, backlog: list) -> None:
        while True:
            self.print_progress(backlog)
            await asyncio.sleep(0.5)

    def print_progress(self, backlog: list, final: bool = False) -> None:
        t = self.tally
        p99 = percentile(sorted(t.recent), 0.99) * 1000
        last = backlog[-1][1] if backlog and isinstance(backlog[-1][1], tuple) else ("-", 0)
        trades = max(0, last[1] - self.trade_base) if last[0] != "-" else "-"
        sys.stderr.write(
            f"\r{self.mode:6s} {time.monotonic() - self.started:5.1f}s ops sent {self.sends:7d} "
            f"accepted {t.counts['accepted']:7d} errors {t.counts['errors']:5d} stale {t.counts['stale']:5d} "
            f"rate {t.rate_last_second():5d}/s p99 {p99:7.1f} ms backlog {last[0]} trades {trades}   "
            + ("\n" if final else ""))
        sys.stderr.flush()

    def summary(self) -> dict:
        t = self.tally
        latency = {}
        for kind, values in sorted(t.latencies.items()):
            ordered = sorted(values)
            latency[kind] = {"requests": len(ordered), **{
                name: round(percentile(ordered, q) * 1000, 1) for name, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99))
            }, "max_ms": round(ordered[-1] * 1000, 1)}
        return {
            "mode": self.mode,
            "asked_rate": self.args.rate,
            "seconds": self.args.seconds,
            "operations_sent": self.sends,
            "accepted": t.counts["accepted"],
            "pending_202": t.counts["pending"],
            "errors": t.counts["errors"],
            "stale_cancels_or_amends": t.counts["stale"],
            "cancelled": t.counts["cancelled"],
            "requests": t.counts["requests"],
            "unfinished_requests": t.counts["unfinished"],
            # Requotes that waited for a maker to be answered: more --makers
            # would have sent them on time.
            "requotes_waiting_for_a_maker": t.counts["makers_all_busy"],
            "send_rate": round(self.sends / self.send_window, 1),
            "accepted_per_s": round(t.counts["accepted"] / self.elapsed, 1),
            "elapsed_s": round(self.elapsed, 1),
            "latency_by_request": latency,
            "errors_by_code": dict(t.errors.most_common(12)),
        }


async def run_mode(url: str, args, mode: str, tag: str, users: dict, markets: list[Market],
                   backlog: list, started_load, trade_base: int) -> tuple[dict, float, list[dict]]:
    """The load of one mode: its figures, when it ended, the makers' headers."""
    per_trader = max(2, -(-args.concurrency // (args.makers + args.takers)))
    limits = httpx.Limits(max_connections=per_trader, max_keepalive_connections=per_trader)
    async with contextlib.AsyncExitStack() as stack:
        def client() -> httpx.AsyncClient:
            return stack.enter_async_context(httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(args.timeout)))

        maker_headers = await log_in_all(await client(), url, users["makers"])
        taker_headers = await log_in_all(await client(), url, users["takers"])
        makers = [Maker(h, markets[i % len(markets)], await client(), index=i, quotes=[None] * (2 * args.levels))
                  for i, h in enumerate(maker_headers)]
        takers = [Trader(h, markets[i % len(markets)], await client()) for i, h in enumerate(taker_headers)]
        load = Load(url, args, mode, tag, makers, takers, trade_base)
        result = await load.run(backlog, started_load)
    return result, load.ended, maker_headers


async def cancel_quotes(url: str, maker_headers: list[dict]) -> None:
    """Leave the book empty for the next mode (not measured)."""
    async with httpx.AsyncClient(timeout=httpx.Timeout(120)) as client:
        await asyncio.gather(*(client.delete(f"{url}/api/v1/orders", headers=h) for h in maker_headers))


def settle(database_url: str, trade_base: int, load_ended: float, timeout: float) -> dict:
    """Trades of the run, settled by the end of the load, and how long after
    the end the matcher had applied every command and no trade was left
    PENDING (polled every 0.1 s, at most `timeout`)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        trades, settled_at_end, left = conn.execute(SETTLEMENT_SQL, (trade_base,)).fetchone()
        while left and time.monotonic() - load_ended < timeout:
            time.sleep(0.1)
            trades, _, left = conn.execute(SETTLEMENT_SQL, (trade_base,)).fetchone()
        lag = time.monotonic() - load_ended
        trades, settled, left = conn.execute(SETTLEMENT_SQL, (trade_base,)).fetchone()
    return {"trades": trades, "settled_at_end_of_load": settled_at_end, "settled": settled,
            "unsettled": trades - settled, "settlement_lag_s": round(lag, 2) if not left else None}


def measure(url: str, database_url: str, stacks, args, mode: str, tag: str, users: dict, markets) -> dict:
    """One mode from the start of the load to the end of settlement."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        trade_base = conn.execute("SELECT coalesce(max(id), 0) FROM orders_trade").fetchone()[0]
    load_average_before = os.getloadavg()[0]  # the machine is shared: how busy it was
    backlog: list = []
    halt = threading.Event()
    sampler = threading.Thread(target=sample_backlog, args=(database_url, backlog, halt), kwargs={"sql": SAMPLE_SQL},
                               daemon=True)
    cpu_marks = []

    def started_load() -> None:
        cpu_marks.append(cpu_seconds(stacks, database_url))
        sampler.start()

    try:
        result, load_ended, maker_headers = asyncio.run(
            run_mode(url, args, mode, tag, users, markets, backlog, started_load, trade_base))
    finally:
        halt.set()
    sampler.join(timeout=10)
    result.update(settle(database_url, trade_base, load_ended, args.settle_timeout))
    cpu_marks.append(cpu_seconds(stacks, database_url))
    asyncio.run(cancel_quotes(url, maker_headers))
    numbers = [row[0] for _, row in backlog if isinstance(row, tuple)]
    load_s = result["elapsed_s"]
    result.update({
        "matched_trades_per_s": round(result["trades"] / load_s, 1),
        "settled_trades_per_s_during_load": round(result["settled_at_end_of_load"] / load_s, 1),
        "backlog_max": max(numbers, default=None),
        "backlog_end": numbers[-1] if numbers else None,
        "backlog_samples": " ".join(f"{t:.0f}s:{row[0]}" for t, row in backlog if isinstance(row, tuple)),
    })
    result["cpu_seconds"], result["cpu_ms_per_accepted_op"] = cpu_spent(*cpu_marks, result["accepted"])
    result["machine"] = {"cpu": cpu_model(), "cores": os.cpu_count(), "load_average_before": load_average_before,
                         "load_average_after": os.getloadavg()[0]}
    return result


SIDE_BY_SIDE = [
    ("operations sent/s", "send_rate"), ("accepted/s", "accepted_per_s"), ("errors", "errors"),
    ("stale cancels/amends", "stale_cancels_or_amends"), ("trades/s (matched)", "matched_trades_per_s"),
    ("trades settled/s during load", "settled_trades_per_s_during_load"), ("backlog max", "backlog_max"),
    ("backlog end", "backlog_end"), ("settlement lag s", "settlement_lag_s"),
]


def side_by_side(results: list[dict]) -> str:
    """The modes' main figures as a Markdown table, one column per mode."""
    lines = ["| | " + " | ".join(r["mode"] for r in results) + " |", "|---" * (len(results) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(str(r.get(key)) for r in results) + " |" for label, key in SIDE_BY_SIDE]
    kinds = sorted({kind for r in results for kind in r["latency_by_request"]})
    for kind in kinds:
        cells = []
        for r in results:
            k = r["latency_by_request"].get(kind)
            cells.append(f"{k['p50_ms']} / {k['p99_ms']} ({k['requests']})" if k else "")
        lines.append(f"| {kind} p50 / p99 ms (requests) | " + " | ".join(cells) + " |")
    roles = sorted({role for r in results for role in r["cpu_ms_per_accepted_op"]}, key=lambda x: (x == "all", x))
    for role in roles:
        lines.append(f"| CPU ms/op: {role} | " + " | ".join(str(r["cpu_ms_per_accepted_op"].get(role, "")) for r in results) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=MODES, default="batch")
    parser.add_argument("--compare", default="", help="modes to run one after the other, e.g. single,amend,batch")
    parser.add_argument("--rate", type=float, default=500.0, help="order operations per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="of load, per mode")
    add_exchange_arguments(parser)
    parser.add_argument("--market", action="append", default=[], help="SYMBOL:MID:QUANTITY (repeatable); default BTC/USDT:50000:0.001")
    parser.add_argument("--makers", type=int, default=16,
                        help="each has one requote in flight at a time: enough of them to keep up with --rate")
    parser.add_argument("--levels", type=int, default=10, help="price levels a side per maker (2 x levels orders a requote)")
    parser.add_argument("--takers", type=int, default=4)
    parser.add_argument("--taker-share", type=float, default=0.1, help="of the operations")
    parser.add_argument("--taker-batch", type=int, default=20, help="batch mode: taker orders per request")
    parser.add_argument("--half-spread", type=Decimal, default=Decimal("2.50"))
    parser.add_argument("--level-spacing", type=Decimal, default=Decimal("1.00"))
    parser.add_argument("--mid-step", type=Decimal, default=Decimal("0.50"), help="the mid moves this much each requote")
    parser.add_argument("--wander", type=Decimal, default=Decimal("50"), help="the mid stays this close to where it started")
    parser.add_argument("--concurrency", type=int, default=64, help="most requests in flight")
    parser.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    parser.add_argument("--settle-timeout", type=float, default=120.0, help="seconds to wait for settlement after the load")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", default="", help="also write the result here")
    args = parser.parse_args()
    modes = [m.strip() for m in args.compare.split(",") if m.strip()] or [args.mode]
    if unknown := set(modes) - set(MODES):
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")
    markets = [Market.parse(m) for m in args.market or ["BTC/USDT:50000:0.001"]]

    env, database_url, urls, stacks, stop = open_exchange(parser, args, "marketmaker-bench-")
    url = urls[0]  # one HTTP client per trader, all to the first
    try:
        funds = [("USDT", "10000000"), *((m.base, "1000") for m in markets)]
        users = {"makers": create_users(env, args.makers, "mm", funds), "takers": create_users(env, args.takers, "taker", funds)}
        run_tag = f"{int(time.time()) % 100000}"
        results = [measure(url, database_url, stacks, args, mode, f"{mode[0]}{run_tag}", users, markets) for mode in modes]
    finally:
        if stop is not None:
            stop()
    output = results[0] if len(results) == 1 else {"runs": results}
    print(json.dumps(output, indent=2))
    print(side_by_side(results), file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(output, indent=2) + "\n")


if __name__ == "__main__":
    main()
