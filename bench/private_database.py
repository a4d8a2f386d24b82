"""A throwaway database on the local PostgreSQL server for one benchmark
run: created, used through DATABASE_URL, dropped at the end."""

from __future__ import annotations

import psycopg

PG_SERVER = "postgres://postgres@127.0.0.1:5432"


def admin_sql(statement: str) -> None:
    """Run a statement on the server's maintenance database (CREATE/DROP DATABASE)."""
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def drop(db_name: str) -> None:
    """Close this process's Django connections (if Django was set up) and
    drop the database, whoever else is still connected."""
    try:
        from django.db import connections  # noqa: PLC0415 (Django may not be set up yet)

        connections.close_all()
    except Exception:  # Django may not be set up if migrate failed
        pass
    admin_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
