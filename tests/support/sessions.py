"""Extra database sessions beside Django's, for tests that race a second
transaction against the code under test (locks, deadlocks)."""

from __future__ import annotations

import psycopg
from django.db import connection


def connect() -> psycopg.Connection:
    """A new session on the test database (not in autocommit)."""
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
    )


def waiting_for_locks(observer: psycopg.Connection) -> int:
    """How many sessions of the test database wait for a lock now."""
    return observer.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    ).fetchone()[0]
