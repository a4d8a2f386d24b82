"""A circuit breaker whose state lives in Redis, shared by every worker.

CLOSED: calls go through; consecutive failures are counted and the
`failure_threshold`-th one opens the circuit. OPEN: calls are refused with
CircuitOpen until `reset_seconds` have passed since it opened. HALF_OPEN:
exactly one trial call at a time is let through (a SET NX key with an expiry,
so a worker killed mid-trial frees the slot after `trial_timeout`); its
success closes the circuit, its failure opens it again.

Each transition is one Lua script, so workers racing on the same breaker
never see a half-made change, and the clock is Redis's own (TIME), so
workers on machines whose clocks differ agree on when OPEN ends.

If Redis cannot be reached the breaker must not stop settlement: it falls
back to the same state machine held in this process's memory (each process
counting its own failures) and logs a warning. Calls therefore go through
as in CLOSED until this process has seen `failure_threshold` failures
itself. The fallback state is dropped as soon as Redis answers again.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, TypeVar

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

T = TypeVar("T")

CLOSED = "CLOSED"
OPEN = "OPEN"
HALF_OPEN = "HALF_OPEN"
STATES = (CLOSED, OPEN, HALF_OPEN)


class CircuitOpen(Exception):
    """The breaker refused the call: OPEN, or HALF_OPEN with a trial under way."""

    def __init__(self, name: str, state: str, retry_in: float) -> None:
        self.name, self.state, self.retry_in = name, state, retry_in
        super().__init__(f"circuit {name} is {state}; next trial in {retry_in:.1f}s")


# KEYS[1] = state hash, KEYS[2] = trial slot. ARGV: reset seconds, trial ms, token.
# Returns {state, 1 if the call may go ahead else 0}.
_ACQUIRE = """
local state = redis.call('HGET', KEYS[1], 'state') or 'CLOSED'
if state == 'CLOSED' then return {state, 1} end
if state == 'OPEN' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
  local opened = tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0')
  if now - opened < tonumber(ARGV[1]) then return {state, 0} end
  redis.call('HSET', KEYS[1], 'state', 'HALF_OPEN')
  state = 'HALF_OPEN'
end
if redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[2]) then return {state, 1} end
return {state, 0}
"""

# ARGV: token. A success closes a HALF_OPEN circuit only when it is the trial's.
_SUCCESS = """
local state = redis.call('HGET', KEYS[1], 'state') or 'CLOSED'
if state == 'HALF_OPEN' then
  if redis.call('GET', KEYS[2]) ~= ARGV[1] then return state end
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'state', 'CLOSED', 'failures', 0)
  redis.call('HDEL', KEYS[1], 'opened_at')
  return 'CLOSED'
end
if state == 'CLOSED' and (redis.call('HGET', KEYS[1], 'failures') or '0') ~= '0' then
  redis.call('HSET', KEYS[1], 'failures', 0)
end
return state
"""

# ARGV: token, failure threshold.
_FAILURE = """
local state = redis.call('HGET', KEYS[1], 'state') or 'CLOSED'
local t = redis.call('TIME')
local now = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
if state == 'CLOSED' then
  local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
  if failures < tonumber(ARGV[2]) then return state end
elseif state ~= 'HALF_OPEN' or redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return state
else
  redis.call('DEL', KEYS[2])
  redis.call('HINCRBY', KEYS[1], 'failures', 1)
end
redis.call('HSET', KEYS[1], 'state', 'OPEN', 'opened_at', now)
return 'OPEN'
"""


@dataclass
class _LocalState:
    """The fallback state of one breaker in this process (Redis unreachable)."""

    state: str = CLOSED
    failures: int = 0
    opened_at: float | None = None
    trial: str | None = None
    trial_expires: float = 0.0


_local_states: dict[str, _LocalState] = {}
_local_lock = threading.Lock()


class CircuitBreaker:
    def __init__(
        self,
        key: str,
        *,
        failure_threshold: int = 5,
        reset_seconds: float = 10.0,
        trial_timeout: float = 10.0,
        counts_as_failure: tuple[type[BaseException], ...] = (Exception,),
        client: redis.Redis | None = None,
    ) -> None:
        """`key` names the shared state in Redis; `counts_as_failure` are the
        exceptions of the guarded call that count against the service (any
        other exception propagates and counts as the service answering)."""
        self.key = key
        self.trial_key = f"{key}:trial"
        self.failure_threshold = max(1, failure_threshold)
        self.reset_seconds = reset_seconds
        self.trial_timeout = trial_timeout
        self.counts_as_failure = counts_as_failure
        self.client = client if client is not None else shared_client()
        self._acquire_script = self.client.register_script(_ACQUIRE)
        self._success = self.client.register_script(_SUCCESS)
        self._failure = self.client.register_script(_FAILURE)

    # -- the guarded call -------------------------------------------------

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` if the breaker allows it; raise CircuitOpen if not."""
        token = uuid.uuid4().hex
        state, allowed = self._acquire(token)
        if not allowed:
            raise CircuitOpen(self.key, state, self._retry_in())
        try:
            result = fn()
        except self.counts_as_failure:
            self._record(self._failure, token, self._local_failure)
            raise
        except Exception:
            self._record(self._success, token, self._local_success)
            raise
        self._record(self._success, token, self._local_success)
        return result

    def status(self) -> dict:
        """What health and metrics show. An OPEN circuit whose reset time has
        passed is reported HALF_OPEN: the next call will be the trial."""
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(self.key)
            pipe.time()
            raw, (seconds, micros) = pipe.execute()
            _forget_local(self.key)
            fields = {k.decode(): v.decode() for k, v in raw.items()}
            state = fields.get("state", CLOSED)
            failures = int(fields.get("failures", 0))
            opened_at = float(fields["opened_at"]) if "opened_at" in fields else None
            now, backend = seconds + micros / 1_000_000, "redis"
        except redis.RedisError as exc:
            _warn_redis_down(self.key, exc)
            local = _local_state(self.key)
            state, failures, opened_at = local.state, local.failures, local.opened_at
            now, backend = time.time(), "local"
        retry_in = 0.0
        if state == OPEN and opened_at is not None:
            retry_in = max(0.0, opened_at + self.reset_seconds - now)
            if retry_in == 0.0:
                state = HALF_OPEN
        return {
            "state": state,
            "failures": failures,
            "opened_at": opened_at,
            "retry_in": round(retry_in, 3),
            "failure_threshold": self.failure_threshold,
            "reset_seconds": self.reset_seconds,
            "backend": backend,
        }

    def reset(self) -> None:
        """Forget everything: CLOSED with no failures (operators, tests)."""
        self.client.delete(self.key, self.trial_key)
        _forget_local(self.key)

    # -- Redis, with the in-process fallback ------------------------------

    def _acquire(self, token: str) -> tuple[str, bool]:
        try:
            state, allowed = self._acquire_script(
                keys=[self.key, self.trial_key],
                args=[self.reset_seconds, max(1, int(self.trial_timeout * 1000)), token],
            )
            _forget_local(self.key)
            return state.decode(), bool(allowed)
        except redis.RedisError as exc:
            _warn_redis_down(self.key, exc)
            return self._local_acquire(token)

    def _record(self, script, token: str, local: Callable[[str], None]) -> None:
        try:
            script(keys=[self.key, self.trial_key], args=[token, self.failure_threshold])
        except redis.RedisError as exc:
            _warn_redis_down(self.key, exc)
            local(token)

    def _retry_in(self) -> float:
        return self.status()["retry_in"]

    def _local_acquire(self, token: str) -> tuple[str, bool]:
        now = time.time()
        with _local_lock:
            local = _local_state(self.key)
            if local.state == OPEN:
                if now - (local.opened_at or 0.0) < self.reset_seconds:
                    return OPEN, False
                local.state = HALF_OPEN
            if local.state == HALF_OPEN:
                if local.trial is not None and local.trial_expires > now:
                    return HALF_OPEN, False
                local.trial, local.trial_expires = token, now + self.trial_timeout
            return local.state, True

    def _local_success(self, token: str) -> None:
        with _local_lock:
            local = _local_state(self.key)
            if local.state == CLOSED:
                local.failures = 0
            elif local.state == HALF_OPEN and local.trial == token:
                _local_states[self.key] = _LocalState()

    def _local_failure(self, token: str) -> None:
        with _local_lock:
            local = _local_state(self.key)
            if local.state == CLOSED:
                local.failures += 1
                if local.failures < self.failure_threshold:
                    return
            elif local.state != HALF_OPEN or local.trial != token:
                return
            else:
                local.failures += 1
            local.state, local.opened_at, local.trial = OPEN, time.time(), None


@lru_cache(maxsize=1)
def shared_client() -> redis.Redis:
    """A client that fails fast: when Redis is down a guarded call should
    fall back to the local state at once, not after rounds of retries."""
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=0.5, socket_timeout=2.0, retry=Retry(NoBackoff(), 0)
    )


def _local_state(key: str) -> _LocalState:
    return _local_states.setdefault(key, _LocalState())


def _forget_local(key: str) -> None:
    if key in _local_states:
        with _local_lock:
            if _local_states.pop(key, None) is not None:
                log.info("circuit %s: Redis answers again; shared state in use", key)


_last_warning: dict[str, float] = {}


def _warn_redis_down(key: str, exc: Exception) -> None:
    # Once a minute per breaker: every settlement would otherwise log it.
    now = time.monotonic()
    if now - _last_warning.get(key, -60.0) >= 60.0:
        _last_warning[key] = now
        log.warning("circuit %s: Redis unreachable (%s); counting failures in this process", key, exc)
