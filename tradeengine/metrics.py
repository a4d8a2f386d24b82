"""Prometheus metrics, served by the web process at /metrics.

Three kinds, by where the figure is born:

- In the web processes (orders accepted and rejected, rejection codes, rate
  limiting): counters in Redis hashes (HINCRBY), so that a scrape of any of
  the several processes behind one port counts them all.
- In the matcher process (batch size and latency): the matcher adds each
  observation to a small Redis hash; the web process reads it at scrape time
  and renders histograms. No shared directory and no extra port is needed,
  which keeps working when processes run on different machines. Redis losing
  the hash looks to Prometheus like a counter reset, which rate() handles.
- In the database (trades, settlement backlog and latency, matcher heartbeats,
  command backlog): read at scrape time by the same collector.

Every collector swallows its own failures: a scrape never breaks because a
backing service is down (the health endpoints say that).
"""

from __future__ import annotations

import logging
import math
from collections import Counter

from django.db import connection
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

log = logging.getLogger(__name__)

# Counters the web processes add to in Redis (one hash per counter, a field
# per label value), so a scrape of any web process sees every process's counts.
COUNTERS = {
    "tradeengine_orders": ("Orders submitted to the API, by type and outcome (accepted|rejected).", ("type", "outcome")),
    "tradeengine_rejections": ("Requests refused with a domain error, by error code.", ("code",)),
    "tradeengine_rate_limited": ("Requests refused by a rate limit, by scope.", ("scope",)),
    # Added to by the matcher, after the batch that ended the orders committed.
    "tradeengine_order_outcomes": ("Orders that reached a final state, by type and final status.", ("type", "status")),
}
LABEL_SEPARATOR = "|"

BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)
BATCH_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
HISTOGRAMS = {
    "tradeengine_matcher_batch_size": ("Commands applied per matcher batch.", BATCH_SIZE_BUCKETS),
    "tradeengine_matcher_batch_seconds": ("Time to apply, commit and hand off one matcher batch.", BATCH_SECONDS_BUCKETS),
}


def _key(name: str) -> str:
    # Named after the database, like the matcher's other keys, so several
    # installations (or test runs) can share one Redis.
    return f"metrics:{connection.settings_dict['NAME']}:{name}"


def _bucket_field(value: float, buckets: tuple) -> str:
    for bound in buckets:
        if value <= bound:
            return f"le:{bound}"
    return "le:+Inf"


def observe_matcher_batch(size: int, seconds: float, final_orders: list[tuple[str, str]] = ()) -> None:
    """Record one committed batch and the (type, status) of the orders it
    ended (called by the matcher; one Redis round trip). Never raises."""
    from .redis import get_redis

    try:
        pipe = get_redis().pipeline(transaction=False)
        for name, value in (("tradeengine_matcher_batch_size", size), ("tradeengine_matcher_batch_seconds", seconds)):
            key, buckets = _key(name), HISTOGRAMS[name][1]
            pipe.hincrby(key, _bucket_field(value, buckets), 1)
            pipe.hincrby(key, "count", 1)
            pipe.hincrbyfloat(key, "sum", value)
        for labels, count in Counter(final_orders).items():
            pipe.hincrby(_key("tradeengine_order_outcomes"), LABEL_SEPARATOR.join(labels), count)
        pipe.execute()
    except Exception as exc:  # metrics must never slow or stop matching
        log.debug("could not record matcher batch metrics: %s", exc)


def read_histogram(name: str) -> dict | None:
    """{"buckets": [(bound, cumulative count)], "count", "sum"} or None."""
    from .redis import get_redis

    raw = {k.decode(): v.decode() for k, v in get_redis().hgetall(_key(name)).items()}
    if not raw:
        return None
    cumulative, buckets = 0, []
    for bound in (*HISTOGRAMS[name][1], math.inf):
        label = "+Inf" if bound == math.inf else str(bound)
        cumulative += int(raw.get(f"le:{label}", 0))
        buckets.append((bound, cumulative))
    return {"buckets": buckets, "count": int(raw.get("count", 0)), "sum": float(raw.get("sum", 0))}


def quantile(histogram: dict | None, q: float) -> float | None:
    """Estimate a quantile from bucket counts, as PromQL histogram_quantile does."""
    if not histogram or not histogram["count"]:
        return None
    rank, previous_bound, previous_count = q * histogram["count"], 0.0, 0
    for bound, count in histogram["buckets"]:
        if count >= rank:
            if bound == math.inf:
                return previous_bound
            if count == previous_count:
                return bound
            return previous_bound + (bound - previous_bound) * (rank - previous_count) / (count - previous_count)
        previous_bound, previous_count = bound, count
    return previous_bound


class CrossProcessCollector:
    """Figures from Redis (API counters, matcher histograms) and the
    database, read at scrape time."""

    def describe(self):
        # Names only: the registry calls this at registration, before the
        # database may be used, instead of a full collect().
        for name, (doc, _) in HISTOGRAMS.items():
            yield HistogramMetricFamily(name, doc)
        for name, (doc, label_names) in COUNTERS.items():
            yield CounterMetricFamily(name, doc, labels=list(label_names))
        yield CounterMetricFamily("tradeengine_trades", "", labels=["symbol"])
        for name in ("matcher_heartbeat_age_seconds", "symbol_halted", "engine_commands_unprocessed",
                     "settlement_pending", "settlement_failed", "settlement_latency_seconds"):
            yield GaugeMetricFamily(f"tradeengine_{name}", "")

    def collect(self):
        yield from self._safely(self._counters)
        yield from self._safely(self._histograms)
        yield from self._safely(self._database)

    def _counters(self):
        for name, (doc, label_names) in COUNTERS.items():
            family = CounterMetricFamily(name, doc, labels=list(label_names))
            for labels, value in sorted(read_counter(name).items()):
                family.add_metric(list(labels), value)
            yield family

    def _safely(self, producer):
        try:
            yield from list(producer())
        except Exception as exc:  # a scrape shows what it can
            log.warning("metrics collector %s failed: %s", producer.__name__, exc)

    def _histograms(self):
        for name, (doc, _) in HISTOGRAMS.items():
            data = read_histogram(name)
            family = HistogramMetricFamily(name, doc)
            if data:
                family.add_metric([], [("+Inf" if b == math.inf else str(b), c) for b, c in data["buckets"]], data["sum"])
            yield family

    def _database(self):
        from django.utils import timezone

        from matching.models import EngineCommand, MatcherState
        from riskadmin.models import Symbol
        from settlement.selectors import settlement_queue_stats

        trades = CounterMetricFamily("tradeengine_trades", "Trades executed, by symbol (the matcher's trade sequence).", labels=["symbol"])
        heartbeat = GaugeMetricFamily("tradeengine_matcher_heartbeat_age_seconds", "Seconds since the symbol's matcher last reported.", labels=["symbol"])
        halted = GaugeMetricFamily("tradeengine_symbol_halted", "1 when trading on the symbol is halted.", labels=["symbol"])
        now = timezone.now()
        for state in MatcherState.objects.select_related("symbol"):
            trades.add_metric([state.symbol.name], state.trade_sequence)
            if state.heartbeat_at is not None:
                heartbeat.add_metric([state.symbol.name], (now - state.heartbeat_at).total_seconds())
        for name, status in Symbol.objects.values_list("name", "status"):
            halted.add_metric([name], 1 if status == Symbol.Status.HALTED else 0)
        yield from (trades, heartbeat, halted)
        backlog = EngineCommand.objects.filter(processed_at__isnull=True).count()
        yield GaugeMetricFamily("tradeengine_engine_commands_unprocessed", "Commands journalled and not yet applied by a matcher.", value=backlog)
        stats = settlement_queue_stats()
        yield GaugeMetricFamily("tradeengine_settlement_pending", "Trades waiting for settlement.", value=stats["pending"])
        yield GaugeMetricFamily("tradeengine_settlement_failed", "Trades whose settlement failed for good.", value=stats["failed"])
        latency = stats["average_settlement_ms"]
        yield GaugeMetricFamily(
            "tradeengine_settlement_latency_seconds",
            "Average time from execution to settlement over the last hour.",
            value=0.0 if latency is None else latency / 1000,
        )


_installed = False


def install() -> None:
    """Register the cross-process collector once per process."""
    global _installed
    if not _installed:
        REGISTRY.register(CrossProcessCollector())
        _installed = True


def increment(counter: str, *labels: str) -> None:
    """Add one to a cross-process counter. Never raises: a lost count is
    better than a failed request."""
    from .redis import get_redis

    try:
        get_redis().hincrby(_key(counter), LABEL_SEPARATOR.join(labels), 1)
    except Exception as exc:
        log.debug("could not count %s: %s", counter, exc)


def read_counter(counter: str) -> dict[tuple[str, ...], int]:
    from .redis import get_redis

    raw = get_redis().hgetall(_key(counter))
    return {tuple(_text(field).split(LABEL_SEPARATOR)): int(value) for field, value in raw.items()}


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def count_order(order_type: str, outcome: str) -> None:
    increment("tradeengine_orders", order_type or "UNKNOWN", outcome)


def count_rejection(code: str) -> None:
    increment("tradeengine_rejections", code)


def count_rate_limited(scope: str) -> None:
    increment("tradeengine_rate_limited", scope)


def snapshot() -> dict:
    """The API's counters, for GET /api/v1/admin/metrics."""
    figures: dict[str, dict] = {}
    for counter, (_, label_names) in COUNTERS.items():
        for labels, value in sorted(read_counter(counter).items()):
            key = ",".join(f"{k}={v}" for k, v in sorted(zip(label_names, labels)))
            figures.setdefault(counter + "_total", {})[key] = value
    return figures


def order_saved(sender, instance, created: bool, **kwargs) -> None:
    """post_save of Order: count it as accepted once its transaction commits,
    and put its id on the request's log context."""
    if not created:
        return
    import structlog
    from django.db import transaction

    structlog.contextvars.bind_contextvars(order_id=instance.id)
    order_type = instance.type
    transaction.on_commit(lambda: count_order(order_type, "accepted"))


def count_rejected_request(exc, context: dict) -> None:
    """Called by the API error handler for every domain error."""
    count_rejection(exc.code)
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    if request is not None and request.method == "POST" and match is not None and match.url_name == "orders":
        data = request.data if isinstance(getattr(request, "data", None), dict) else {}
        count_order(str(data.get("type", "UNKNOWN"))[:16], "rejected")
