"""Prometheus metrics served at /metrics: one collector, read at scrape time.

The counters and histograms that processes record live in Redis
(core.metrics); the figures born in the database (trades, settlement backlog
and latency, matcher heartbeats, command backlog) are read here. Every part
swallows its own failure: a scrape never breaks because a backing service is
down (the health endpoints say that).
"""

from __future__ import annotations

import logging
import math

from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from core import metrics
from matching.models import EngineCommand, MatcherState
from riskadmin.models import Symbol
from settlement.selectors import settlement_queue_stats
from settlement.wallet import WalletBreakerCollector

log = logging.getLogger(__name__)


class CrossProcessCollector:
    """Figures from Redis (API counters, matcher histograms) and the
    database, read at scrape time."""

    def describe(self):
        # Names only: the registry calls this at registration, before the
        # database may be used, instead of a full collect().
        for name, (doc, _) in metrics.HISTOGRAMS.items():
            yield HistogramMetricFamily(name, doc)
        for name, (doc, label_names) in metrics.COUNTERS.items():
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
        for name, (doc, label_names) in metrics.COUNTERS.items():
            family = CounterMetricFamily(name, doc, labels=list(label_names))
            for labels, value in sorted(metrics.read_counter(name).items()):
                family.add_metric(list(labels), value)
            yield family

    def _safely(self, producer):
        try:
            yield from list(producer())
        except Exception as exc:  # a scrape shows what it can
            log.warning("metrics collector %s failed: %s", producer.__name__, exc)

    def _histograms(self):
        for name, (doc, _) in metrics.HISTOGRAMS.items():
            data = metrics.read_histogram(name)
            family = HistogramMetricFamily(name, doc)
            if data:
                family.add_metric([], [("+Inf" if b == math.inf else str(b), c) for b, c in data["buckets"]], data["sum"])
            yield family

    def _database(self):
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
    """Register the collectors once per process (ready() may run more than
    once under test runners)."""
    global _installed
    if not _installed:
        REGISTRY.register(CrossProcessCollector())
        REGISTRY.register(WalletBreakerCollector())
        _installed = True
