"""Waiting for something to happen: poll its condition until a deadline,
never sleep a fixed time and hope."""

from __future__ import annotations

import time


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.1, on_timeout=lambda: ""):
    """Poll `predicate` until it returns something truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{on_timeout()}")
        time.sleep(interval)
