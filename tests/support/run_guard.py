"""Guards that turn a stuck test run into a failure with a stack dump,
instead of a run that never ends.

pytest-timeout (pytest.ini) fails a single test that takes too long, and the
run goes on. Two things it cannot end:

- A run that is stuck outside any test's timer (collection, a hook, a
  teardown past its test). The run deadline, faulthandler's watchdog armed
  for the whole session, dumps every thread's stack and exits with status 1
  once TEST_RUN_DEADLINE_SECONDS (default 1500) have passed.
- A process that cannot exit after the summary line: the interpreter joins
  every non-daemon thread, ThreadPoolExecutor workers included (asgiref's
  async_to_sync runs its event loops in them), so one thread that never ends
  keeps it alive for ever. The exit guard, a daemon thread started at
  pytest_unconfigure, waits TEST_EXIT_GRACE_SECONDS (default 30), then dumps
  the stacks of what is left and ends the process with the session's exit
  status. A process that exits in time takes the guard with it.

Either knob set to 0 turns its guard off. The hooks are imported by
tests/conftest.py; this module needs nothing but pytest, so a bare pytest
run can load them too (tests/support/test_run_guard.py does). Setting pytest's own
faulthandler_timeout would take the watchdog over test by test and leave
the run unguarded between tests: leave it unset.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
import time
from typing import TextIO

import pytest

RUN_DEADLINE_VARIABLE = "TEST_RUN_DEADLINE_SECONDS"
EXIT_GRACE_VARIABLE = "TEST_EXIT_GRACE_SECONDS"
RUN_DEADLINE_SECONDS = 1500.0
EXIT_GRACE_SECONDS = 30.0


def seconds_from_env(variable: str, default: float) -> float:
    """A duration from the environment; 0 (or less) means "no guard"."""
    value = os.environ.get(variable, "").strip()
    return float(value) if value else default


def stderr_copy() -> TextIO:
    """A stream on a duplicate of the process's stderr. While a test runs,
    pytest's capture points file descriptor 2 at a temporary file, and a dump
    written there is lost when the process is ended; take this copy while it
    is not capturing (at session start)."""
    return os.fdopen(os.dup(sys.__stderr__.fileno()), "w", buffering=1)


class RunDeadline:
    """faulthandler's single watchdog, armed until an absolute deadline."""

    def __init__(self, seconds: float, stream: TextIO) -> None:
        self.at = time.monotonic() + seconds
        self.stream = stream

    def arm(self) -> None:
        left = max(self.at - time.monotonic(), 1.0)
        faulthandler.dump_traceback_later(left, exit=True, file=self.stream)

    @staticmethod
    def disarm() -> None:
        faulthandler.cancel_dump_traceback_later()


def start_exit_guard(*, grace: float, status: int, stream: TextIO) -> threading.Thread:
    """A daemon thread that ends the process with `status` if it is still
    alive `grace` seconds from now, after dumping every thread's stack."""

    def guard() -> None:
        threading.Event().wait(grace)
        left = [t for t in threading.enumerate() if t is not threading.current_thread()]
        stream.write(
            f"\nThe test process had not exited {grace:g} s after the session ended; "
            f"ending it with status {status}. Threads left:\n"
        )
        for thread in left:
            stream.write(f"  {thread.name} (0x{thread.ident:x}){' daemon' if thread.daemon else ''}\n")
        faulthandler.dump_traceback(file=stream, all_threads=True)
        stream.flush()
        os._exit(status)

    thread = threading.Thread(target=guard, name="test-exit-guard", daemon=True)
    thread.start()
    return thread


class _State:
    stream: TextIO | None = None
    deadline: RunDeadline | None = None
    session: pytest.Session | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    _State.session = session
    _State.stream = stderr_copy()
    seconds = seconds_from_env(RUN_DEADLINE_VARIABLE, RUN_DEADLINE_SECONDS)
    if seconds > 0:
        _State.deadline = RunDeadline(seconds, _State.stream)
        _State.deadline.arm()


@pytest.hookimpl(trylast=True)
def pytest_exception_interact() -> None:
    # pytest's faulthandler plugin cancels the watchdog whenever a test fails,
    # in case a debugger is about to start; without --pdb, arm it again.
    if _State.deadline is not None and not _State.session.config.option.usepdb:
        _State.deadline.arm()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _State.session is None:
        return  # the session never started (e.g. --help)
    if _State.deadline is not None:
        _State.deadline.disarm()
    grace = seconds_from_env(EXIT_GRACE_VARIABLE, EXIT_GRACE_SECONDS)
    if grace > 0:
        start_exit_guard(grace=grace, status=int(_State.session.exitstatus), stream=_State.stream)
