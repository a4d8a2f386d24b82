"""Cross-process metrics: counters and histograms kept in Redis.

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
  command backlog): read at scrape time (tradeengine.metrics).

Recording never raises: a lost count is better than a failed request.
"""

from __future__ import annotations

import logging
import math
from collections import Counter

import structlog
from django.db import connection, transaction

from .redis import get_redis

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


def increment(counter: str, *labels: str) -> None:
    """Add one to a cross-process counter. Never raises: a lost count is
    better than a failed request."""

    try:
        get_redis().hincrby(_key(counter), LABEL_SEPARATOR.join(labels), 1)
    except Exception as exc:
        log.debug("could not count %s: %s", counter, exc)


def read_counter(counter: str) -> dict[tuple[str, ...], int]:

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


def count_accepted_order(order) -> None:
    """Count an order as accepted once its transaction commits, and put its
    id on the request's log context (called by the order write path)."""
    structlog.contextvars.bind_contextvars(order_id=order.id)
    order_type = order.type
    transaction.on_commit(lambda: count_order(order_type, "accepted"))


def count_rejected_request(exc, context: dict) -> None:
    """Called by the API error handler for every domain error."""
    count_rejection(exc.code)
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    if request is not None and request.method == "POST" and match is not None and match.url_name == "orders":
        data = request.data if isinstance(getattr(request, "data", None), dict) else {}
        count_order(str(data.get("type", "UNKNOWN"))[:16], "rejected")
