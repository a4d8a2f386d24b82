"""Client of the external wallet service (enabled when WALLET_SERVICE_URL is set).

Every settlement is posted as `POST {WALLET_SERVICE_URL}/settlements` with the
header `Idempotency-Key: trade:<id>`: the wallet records a key once, so a
worker killed after the wallet answered but before its database commit posts
the same trade again harmlessly. Calls go through a circuit breaker shared by
all workers (`settlement.circuit_breaker`).
"""

from __future__ import annotations

import random
import threading

import requests
from django.conf import settings
from django.db import connection
from prometheus_client.core import GaugeMetricFamily

from core.api.fields import plain

from .circuit_breaker import CLOSED, STATES, CircuitBreaker, CircuitOpen


class WalletUnavailable(Exception):
    """The wallet cannot take the posting now (circuit open, unreachable, timed
    out, or a 5xx); the settlement must wait and try again."""


class WalletRejected(Exception):
    """The wallet answered the posting with a 4xx other than 409: retrying the
    same request will not help, so the normal retry budget applies."""


_local = threading.local()


def enabled() -> bool:
    return bool(settings.WALLET_SERVICE_URL)


def breaker() -> CircuitBreaker:
    key = settings.WALLET_BREAKER_KEY or f"breaker:{connection.settings_dict['NAME']}:wallet"
    return CircuitBreaker(
        key,
        failure_threshold=settings.WALLET_BREAKER_FAILURE_THRESHOLD,
        reset_seconds=settings.WALLET_BREAKER_RESET_SECONDS,
        # A trial call lasts at most one timeout; a worker killed during it
        # frees the trial slot after this long.
        trial_timeout=2 * settings.WALLET_TIMEOUT_SECONDS + 1,
        counts_as_failure=(WalletUnavailable,),
    )


def settlement_payload(trade) -> dict:
    """The body posted for one trade; decimals as strings, never floats."""
    return {
        "trade_id": trade.id,
        "symbol": trade.symbol.name,
        "price": plain(trade.price),
        "quantity": plain(trade.quantity),
        "quote_quantity": plain(trade.quote_quantity),
        "buyer_id": trade.buyer_id,
        "seller_id": trade.seller_id,
        "buyer_fee": plain(trade.buyer_fee),
        "buyer_fee_asset": trade.symbol.base_asset,
        "seller_fee": plain(trade.seller_fee),
        "seller_fee_asset": trade.symbol.quote_asset,
        "executed_at": trade.executed_at.isoformat(),
    }


def idempotency_key(trade_id: int) -> str:
    return f"trade:{trade_id}"


def post_settlement(trade) -> None:
    """Record the trade with the wallet; returns once the wallet has it.

    A 2xx, or 409 (already recorded under this key), is success. Raises
    WalletUnavailable when the breaker refuses or the call fails for the
    wallet's sake, WalletRejected on any other 4xx.
    """
    url = settings.WALLET_SERVICE_URL.rstrip("/") + "/settlements"
    body = settlement_payload(trade)
    headers = {"Idempotency-Key": idempotency_key(trade.id)}
    timeout = (min(1.0, settings.WALLET_TIMEOUT_SECONDS), settings.WALLET_TIMEOUT_SECONDS)

    def send() -> None:
        try:
            response = _session().post(url, json=body, headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            raise WalletUnavailable(f"wallet service unreachable: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise WalletUnavailable(f"wallet service answered {response.status_code}")
        if response.status_code >= 400 and response.status_code != 409:
            raise WalletRejected(f"wallet service refused trade {trade.id}: {response.status_code} {response.text[:200]}")

    try:
        breaker().call(send)
    except CircuitOpen as exc:
        raise WalletUnavailable(f"wallet service circuit is {exc.state}; next trial in {exc.retry_in:.1f}s") from exc


def retry_delay() -> float:
    """Seconds a settlement should wait before trying the wallet again: until
    the circuit may let a trial through, plus jitter so that waiting
    settlements do not all return at the same moment."""
    reset = settings.WALLET_BREAKER_RESET_SECONDS
    return wallet_status().get("retry_in", 0.0) + random.uniform(0.2, 1.0) * reset


def wallet_status() -> dict:
    """For health endpoints: {status, message, enabled, url, state, failures,
    opened_at, retry_in, ...}. `status` is "ok" while the circuit is CLOSED
    (or no wallet is configured) and "degraded" otherwise: settlements wait,
    trading goes on."""
    if not enabled():
        return {"status": "ok", "message": "no wallet service configured", "enabled": False, "state": None, "failures": 0}
    breaker_status = breaker().status()
    state = breaker_status["state"]
    if state == CLOSED:
        status, message = "ok", "ok"
    else:
        status, message = "degraded", f"circuit {state}: settlements wait; next trial in {breaker_status['retry_in']:.1f}s"
    return {"status": status, "message": message, "enabled": True, "url": settings.WALLET_SERVICE_URL, **breaker_status}


def _session() -> requests.Session:
    # One pooled session per thread: requests.Session is not thread-safe.
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


class WalletBreakerCollector:
    """Prometheus collector reading the shared breaker state at scrape time,
    so any web process shows what the workers see."""

    def describe(self):
        # Names only: registering must not touch Redis.
        return self._families()

    def collect(self):
        enabled_gauge, state_gauge, failures_gauge = families = self._families()
        status = wallet_status()
        enabled_gauge.add_metric([], 1 if status["enabled"] else 0)
        if status["enabled"]:
            for state in STATES:
                state_gauge.add_metric([state], 1 if status["state"] == state else 0)
            failures_gauge.add_metric([], status["failures"])
        return families

    @staticmethod
    def _families():
        return [
            GaugeMetricFamily("wallet_service_enabled", "1 when settlements are posted to a wallet service"),
            GaugeMetricFamily("wallet_breaker_state", "The wallet circuit breaker's state (1 = current)", labels=["state"]),
            GaugeMetricFamily("wallet_breaker_failures", "Consecutive wallet call failures counted by the breaker"),
        ]
