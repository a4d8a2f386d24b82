"""The run guards (tests/support/run_guard.py), each driven in a pytest process of its
own over a small test file: a run past its deadline ends with status 1 and
every thread's stack; a process that cannot exit after its session ends with
the session's status and the stacks of the threads left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFTEST = "from tests.support.run_guard import pytest_exception_interact, pytest_sessionstart, pytest_unconfigure  # noqa\n"
# Far above the guards' few seconds: reaching it means a guard did not act.
PROCESS_TIMEOUT = 120


def run_pytest(tmp_path: Path, tests: str, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_guarded.py").write_text(tests)
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:django", str(tmp_path)],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=PROCESS_TIMEOUT,
    )


@pytest.mark.parametrize("failing_first", [False, True], ids=["alone", "after-a-failure"])
def test_a_run_past_its_deadline_ends_with_every_threads_stack(tmp_path, failing_first):
    tests = "import threading\n"
    if failing_first:  # a failure makes pytest cancel faulthandler's watchdog
        tests += "def test_fails():\n    assert False\n"
    tests += "def test_never_ends():\n    threading.Event().wait()\n"

    result = run_pytest(tmp_path, tests, TEST_RUN_DEADLINE_SECONDS="3")

    assert result.returncode == 1
    assert "Timeout (0:00:0" in result.stderr  # faulthandler's header, then each thread
    assert "in test_never_ends" in result.stderr


def test_threads_left_after_the_session_end_the_process_with_its_status(tmp_path):
    tests = (
        "import threading\n"
        "def test_leaves_a_thread_behind():\n"
        "    threading.Thread(target=threading.Event().wait, name='left-behind').start()\n"
    )

    result = run_pytest(tmp_path, tests, TEST_EXIT_GRACE_SECONDS="1")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert "Threads left:\n  " in result.stderr
    assert "left-behind" in result.stderr
    assert "File " in result.stderr  # the stacks


def test_a_process_that_exits_in_time_is_left_alone(tmp_path):
    tests = "def test_passes():\n    pass\n"

    result = run_pytest(tmp_path, tests, TEST_EXIT_GRACE_SECONDS=str(PROCESS_TIMEOUT * 2))

    assert result.returncode == 0
    assert "Threads left" not in result.stderr
