"""archive_journal: checkpoint each book, move old processed commands out of
the hot journal, and verify_book and reconcile still hold afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError
from django.db import connection
from django.db.models import F
from django.utils import timezone

from matching.models import ArchivedCommand, EngineCommand, JournalCheckpoint
from matching.tasks import archive_old_commands
from orders.models import Order, Trade
from orders.services import amend_order, cancel_order
from tests.factories import place
from tests.support.commands import run
from tests.support.matcher import process
from tests.support.polling import wait_until

D = Decimal
REPO = Path(__file__).resolve().parents[2]


def age_processed_commands(days: float) -> None:
    """Move every processed command's time back, keeping their order."""
    EngineCommand.objects.filter(processed_at__isnull=False).update(processed_at=F("processed_at") - timedelta(days=days))


@pytest.fixture
def history(transactional_db, symbol, alice, bob):
    """Commands processed 10 days ago (a trade, a resting bid, a cancel, an
    amend, a stop left untriggered), commands processed now, and one never
    processed though journalled long ago."""
    place(alice, symbol, "SELL", "1", "101.00")
    ask = place(alice, symbol, "SELL", "2", "102.00")
    place(bob, symbol, "BUY", "1.5", "102.00")
    bid = place(bob, symbol, "BUY", "1", "99.00")
    cancelled = place(bob, symbol, "BUY", "1", "98.00")
    stop = place(alice, symbol, "SELL", "1", "90.00", type="STOP_LIMIT", stop_price="99.50")
    process(symbol)
    cancel_order(user=bob, order_id=cancelled.id)
    amend_order(user=alice, order_id=ask.id, quantity=D("1.8"))
    process(symbol)
    age_processed_commands(10)
    old = set(EngineCommand.objects.values_list("id", flat=True))

    place(alice, symbol, "SELL", "1", "99.00")  # takes the old bid at 99: the old stop fires and rests at 90
    place(bob, symbol, "BUY", "0.2", "102.00")  # takes from the fired stop
    process(symbol)
    waiting = place(alice, symbol, "SELL", "1", "150.00")
    EngineCommand.objects.filter(order=waiting).update(created_at=timezone.now() - timedelta(days=30))
    return {"old": old, "bid": bid, "stop": stop, "waiting": waiting}


def test_archive_moves_exactly_the_commands_processed_before_the_retention(history, symbol):
    before = {row["id"]: row for row in EngineCommand.objects.values()}

    out, err = run("archive_journal", "--retention-days", "7")

    assert f"BTC/USDT: {len(history['old'])} commands archived" in out and err == ""
    archived = {row["id"]: row for row in ArchivedCommand.objects.values()}
    assert set(archived) == history["old"]
    assert all(archived[i] == before[i] for i in archived)  # the audit trail, column for column
    hot = set(EngineCommand.objects.values_list("id", flat=True))
    assert hot == set(before) - history["old"]
    assert EngineCommand.objects.filter(order=history["waiting"], processed_at__isnull=True).exists()

    out, err = run("verify_book")
    assert "BTC/USDT OK: 2 commands, 2 trades" in out and "after the checkpoint" in out and err == ""
    out, _ = run("verify_book", "--full")
    assert f"BTC/USDT OK: {len(before) - 1} commands, 4 trades" in out
    out, _ = run("reconcile")
    assert "all invariants hold" in out


def test_the_checkpoint_holds_the_book_at_the_cutoff(history, symbol):
    run("archive_journal", "--retention-days", "7")
    checkpoint = JournalCheckpoint.objects.get(symbol=symbol)
    assert checkpoint.commands == len(history["old"]) == checkpoint.book_sequence
    assert checkpoint.trade_sequence == 2
    live = {values[0]: values for values in checkpoint.orders}
    assert set(live) == {history["bid"].id, history["stop"].id, *live} and len(live) == 3  # bid, stop, amended ask
    assert live[history["stop"].id][13] == "UNTRIGGERED"


def test_verify_book_detects_a_divergence_after_archiving(history, symbol):
    run("archive_journal", "--retention-days", "7")
    history["bid"].refresh_from_db()
    assert history["bid"].status == "FILLED"
    # An order the checkpoint held, whose later fill is in the hot journal.
    Order.objects.filter(id=history["bid"].id).update(status="OPEN", filled_quantity=D("0"))
    with pytest.raises(CommandError, match="book verification failed for BTC/USDT"):
        run("verify_book")


def test_verify_book_detects_a_tampered_trade_after_archiving(history, symbol):
    run("archive_journal", "--retention-days", "7")
    trade = Trade.objects.order_by("-sequence").first()
    Trade.objects.filter(id=trade.id).update(quantity=trade.quantity + D("0.001"))
    with pytest.raises(CommandError, match="book verification failed"):
        run("verify_book")


def test_archive_refuses_a_symbol_whose_replay_does_not_match(history, symbol):
    Order.objects.filter(id=history["stop"].id).update(status="CANCELLED")
    with pytest.raises(CommandError, match="archiving refused for BTC/USDT"):
        run("archive_journal", "--retention-days", "7")
    assert not ArchivedCommand.objects.exists()
    assert not JournalCheckpoint.objects.exists()


def test_archive_again_continues_from_the_checkpoint(history, symbol, alice, bob):
    run("archive_journal", "--retention-days", "7")
    out, _ = run("archive_journal", "--retention-days", "7")
    assert "BTC/USDT: 0 commands archived" in out

    # The matcher carries on from the rebuilt book; later the rest ages out too
    # (the hot commands move an hour back, still after the checkpoint).
    place(bob, symbol, "BUY", "1", "101.00")
    process(symbol)
    age_processed_commands(1 / 24)
    place(alice, symbol, "SELL", "1", "90.00")
    process(symbol)

    out, _ = run("archive_journal", "--retention-days", "0")
    assert "BTC/USDT: 4 commands archived" in out  # with the one long waiting
    out, err = run("verify_book")
    assert "BTC/USDT OK: 1 commands" in out and err == ""
    out, _ = run("verify_book", "--full")
    assert "BTC/USDT OK" in out
    assert EngineCommand.objects.filter(processed_at__isnull=False).count() == 1


def test_the_beat_task_archives_with_the_configured_retention(history, symbol, settings):
    settings.JOURNAL_RETENTION_DAYS = 20
    archive_old_commands()
    assert not ArchivedCommand.objects.exists()
    settings.JOURNAL_RETENTION_DAYS = 7
    archive_old_commands()
    assert set(ArchivedCommand.objects.values_list("id", flat=True)) == history["old"]
    assert "archive-journal" in settings.CELERY_BEAT_SCHEDULE


def test_an_archived_command_keeps_every_column_of_the_journal():
    columns = lambda model: sorted(f.column for f in model._meta.concrete_fields)  # noqa: E731
    assert columns(ArchivedCommand) == columns(EngineCommand)


def test_a_killed_archive_run_loses_and_duplicates_nothing(history, symbol):
    """SIGKILL the archiver while a chunk waits on a row lock held here, mid-way
    through the old commands; its backend is terminated too, as the server
    would once it noticed. Every command is then in exactly one table, and the
    next run finishes the job."""
    everything = set(EngineCommand.objects.values_list("id", flat=True))
    old = sorted(EngineCommand.objects.filter(id__in=history["old"]).values_list("processed_at", "id"))
    locked_id = old[3][1]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    settings_dict = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/{settings_dict['NAME']}",
        "PYTHONUNBUFFERED": "1",
    }
    with psycopg.connect(**params) as holder, psycopg.connect(autocommit=True, **params) as watcher:
        holder.execute(f"SELECT id FROM {EngineCommand._meta.db_table} WHERE id = %s FOR UPDATE", [locked_id])
        archiver = subprocess.Popen(
            [sys.executable, "manage.py", "archive_journal", "--retention-days", "7", "--chunk", "1", "-v", "2"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            blocked = f"SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%%{ArchivedCommand._meta.db_table}%%'"
            wait_until(lambda: watcher.execute(blocked).fetchall(), timeout=60, what="the archiver waiting on the locked command")
            backend = watcher.execute(blocked).fetchone()[0]
        finally:
            archiver.send_signal(signal.SIGKILL)
            archiver.wait(timeout=30)
        watcher.execute("SELECT pg_terminate_backend(%s)", [backend])
        gone = "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)"
        wait_until(lambda: watcher.execute(gone, [backend]).fetchone()[0], timeout=30, what="the archiver's backend gone")
        holder.rollback()

    archived = set(ArchivedCommand.objects.values_list("id", flat=True))
    hot = set(EngineCommand.objects.values_list("id", flat=True))
    assert archived == {command_id for _, command_id in old[:3]}
    assert not archived & hot and archived | hot == everything

    run("archive_journal", "--retention-days", "7")
    assert set(ArchivedCommand.objects.values_list("id", flat=True)) == history["old"]
    assert set(EngineCommand.objects.values_list("id", flat=True)) == everything - history["old"]
    out, _ = run("verify_book")
    assert "BTC/USDT OK" in out
