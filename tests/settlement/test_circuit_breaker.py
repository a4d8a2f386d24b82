"""The Redis-backed circuit breaker, against a real Redis."""

from __future__ import annotations

import secrets
import threading

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.redis import get_redis
from settlement.circuit_breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, CircuitOpen
from tests.support.polling import wait_until


class Down(Exception):
    """What the guarded service raises when it fails."""


class Refused(Exception):
    """An answer from the service that is not its failure."""


def fail() -> None:
    raise Down("service down")


def ok() -> str:
    return "ok"


def wait_for_state(breaker: CircuitBreaker, state: str, timeout: float = 5.0) -> None:
    wait_until(lambda: breaker.status()["state"] == state, timeout=timeout, interval=0.02,
               what=f"the breaker to become {state}", on_timeout=lambda: str(breaker.status()))


@pytest.fixture
def key():
    key = f"test:breaker:{secrets.token_hex(6)}"
    yield key
    get_redis().delete(key, f"{key}:trial")


def make(key: str, client=None, **options) -> CircuitBreaker:
    options = {"failure_threshold": 3, "reset_seconds": 0.3, "trial_timeout": 5.0, "counts_as_failure": (Down,), **options}
    return CircuitBreaker(key, client=client, **options)


def open_circuit(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.failure_threshold):
        with pytest.raises(Down):
            breaker.call(fail)
    assert breaker.status()["state"] == OPEN


def test_a_new_breaker_is_closed_and_lets_calls_through(key):
    breaker = make(key)
    assert breaker.call(ok) == "ok"
    assert breaker.status()["state"] == CLOSED
    assert breaker.status()["failures"] == 0


def test_consecutive_failures_up_to_the_threshold_open_the_circuit(key):
    breaker = make(key)
    for expected_failures in (1, 2):
        with pytest.raises(Down):
            breaker.call(fail)
        assert (breaker.status()["state"], breaker.status()["failures"]) == (CLOSED, expected_failures)
    with pytest.raises(Down):
        breaker.call(fail)
    status = breaker.status()
    assert (status["state"], status["failures"]) == (OPEN, 3)
    assert status["opened_at"] is not None and 0 < status["retry_in"] <= 0.3


def test_a_success_resets_the_failure_count(key):
    breaker = make(key)
    for _ in range(2):
        with pytest.raises(Down):
            breaker.call(fail)
    breaker.call(ok)
    with pytest.raises(Down):
        breaker.call(fail)
    assert (breaker.status()["state"], breaker.status()["failures"]) == (CLOSED, 1)


def test_an_open_circuit_refuses_without_calling(key):
    breaker = make(key, reset_seconds=30)
    open_circuit(breaker)
    calls = []
    with pytest.raises(CircuitOpen) as refused:
        breaker.call(lambda: calls.append(1))
    assert calls == []
    assert refused.value.state == OPEN and refused.value.retry_in > 25


def test_the_state_is_shared_by_every_breaker_on_the_key(key):
    open_circuit(make(key, reset_seconds=30))
    other_worker = make(key, reset_seconds=30)
    with pytest.raises(CircuitOpen):
        other_worker.call(ok)


def test_after_the_reset_time_a_successful_trial_closes_the_circuit(key):
    breaker = make(key)
    open_circuit(breaker)
    wait_for_state(breaker, HALF_OPEN)
    assert breaker.call(ok) == "ok"
    status = breaker.status()
    assert (status["state"], status["failures"], status["opened_at"]) == (CLOSED, 0, None)


def test_a_failed_trial_opens_the_circuit_again(key):
    breaker = make(key)
    open_circuit(breaker)
    wait_for_state(breaker, HALF_OPEN)
    first_opened_at = breaker.status()["opened_at"]
    with pytest.raises(Down):
        breaker.call(fail)
    status = breaker.status()
    assert status["state"] == OPEN
    assert status["opened_at"] > first_opened_at
    with pytest.raises(CircuitOpen):
        breaker.call(ok)


def test_half_open_lets_exactly_one_trial_through_at_a_time(key):
    breaker = make(key)
    open_circuit(breaker)
    wait_for_state(breaker, HALF_OPEN)
    trial_started, finish_trial = threading.Event(), threading.Event()
    results = []

    def slow_trial() -> str:
        trial_started.set()
        assert finish_trial.wait(5)
        return "trial"

    trial = threading.Thread(target=lambda: results.append(breaker.call(slow_trial)))
    trial.start()
    assert trial_started.wait(5)
    refused = []
    for _ in range(5):  # every other caller, from any worker, is refused meanwhile
        with pytest.raises(CircuitOpen) as exc:
            make(key).call(ok)
        refused.append(exc.value.state)
    finish_trial.set()
    trial.join(5)
    assert results == ["trial"]
    assert refused == [HALF_OPEN] * 5
    assert breaker.status()["state"] == CLOSED


def test_racing_callers_in_half_open_get_one_trial_between_them(key):
    breaker = make(key)
    open_circuit(breaker)
    wait_for_state(breaker, HALF_OPEN)
    release = threading.Event()
    let_through, refused = [], []
    barrier = threading.Barrier(8)

    def caller() -> None:
        barrier.wait()
        try:
            make(key).call(lambda: (let_through.append(1), release.wait(5)))
        except CircuitOpen:
            refused.append(1)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    # The trial is held until every other caller has been answered.
    try:
        wait_until(lambda: len(let_through) + len(refused) >= 8, timeout=5, interval=0.01,
                   what="every caller to be let through or refused")
    finally:
        release.set()
    for thread in threads:
        thread.join(5)
    assert (len(let_through), len(refused)) == (1, 7)


def test_a_trial_slot_held_by_a_dead_caller_expires(key):
    breaker = make(key, trial_timeout=0.3)
    open_circuit(breaker)
    wait_for_state(breaker, HALF_OPEN)
    # A worker killed mid-trial: it took the slot and will never report back.
    state, allowed = breaker._acquire("dead-worker")
    assert (state, allowed) == (HALF_OPEN, True)
    with pytest.raises(CircuitOpen):
        breaker.call(ok)

    def a_trial_goes_through() -> bool:
        try:
            assert breaker.call(ok) == "ok"
        except CircuitOpen:
            return False
        return True

    wait_until(a_trial_goes_through, timeout=5, interval=0.02, what="the dead caller's trial slot to expire")
    assert breaker.status()["state"] == CLOSED


def test_an_error_that_is_not_the_service_failing_counts_as_an_answer(key):
    breaker = make(key)
    for _ in range(2):
        with pytest.raises(Down):
            breaker.call(fail)
    with pytest.raises(Refused):
        breaker.call(lambda: (_ for _ in ()).throw(Refused("bad request")))
    assert (breaker.status()["state"], breaker.status()["failures"]) == (CLOSED, 0)


def test_with_redis_unreachable_the_breaker_counts_in_this_process(key):
    unreachable = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    breaker = make(key, client=unreachable, reset_seconds=1.0)
    assert breaker.call(ok) == "ok"
    assert breaker.status()["backend"] == "local"
    open_circuit(breaker)
    with pytest.raises(CircuitOpen):
        breaker.call(ok)
    wait_for_state(breaker, HALF_OPEN)
    assert breaker.call(ok) == "ok"
    assert breaker.status()["state"] == CLOSED
    # The shared state was never touched.
    assert not get_redis().exists(key)
