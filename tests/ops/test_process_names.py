"""Each process names its database connections after itself, so
pg_stat_activity tells an operator which process holds which connection."""

from __future__ import annotations

import pytest
from django.db import connection

from tradeengine.settings import _process_name


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["manage.py", "run_matcher", "--symbols", "BTC/USDT"], "run_matcher"),
        (["/srv/.venv/bin/celery", "-A", "tradeengine", "worker", "--loglevel=info"], "celery worker"),
        (["/srv/.venv/bin/celery", "-A", "tradeengine", "beat"], "celery beat"),
        (["/srv/.venv/lib/python3.11/site-packages/daphne/__main__.py", "--fd", "8", "tradeengine.asgi:application"], "daphne"),
        (["/srv/.venv/bin/daphne", "-p", "8000", "tradeengine.asgi:application"], "daphne"),
    ],
)
def test_the_process_name_comes_from_the_command_line(argv, name):
    assert _process_name(argv) == name


def test_the_database_sees_the_name(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        assert cursor.fetchone()[0] == connection.settings_dict["OPTIONS"]["application_name"] != ""
