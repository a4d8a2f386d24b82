"""run_matcher --until-idle, run through call_command against the real database."""

from __future__ import annotations

import gc
import signal
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError

from matching import host
from matching.host import Matcher
from matching.models import EngineCommand
from orders.models import Trade
from tests.factories import place
from tests.support.commands import run


@pytest.fixture
def restore_signals():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_run_matcher_until_idle_applies_the_journal_and_exits(symbol, alice, bob, restore_signals):
    ask = place(alice, symbol, "SELL", "1", "100.00")
    bid = place(bob, symbol, "BUY", "0.4", "100.00")
    out, _ = run("run_matcher", "--symbols", "btc-usdt", "--until-idle", "--batch-size", "1")
    assert "owns 1 symbol(s)" in out
    assert not EngineCommand.objects.filter(processed_at__isnull=True).exists()
    ask.refresh_from_db()
    bid.refresh_from_db()
    assert (bid.status, ask.status) == ("FILLED", "PARTIALLY_FILLED")
    trade = Trade.objects.get()
    assert (trade.price, trade.quantity) == (Decimal("100.00"), Decimal("0.400"))


def test_run_matcher_with_no_matching_symbol_refuses_to_start(symbol, restore_signals):
    with pytest.raises(CommandError, match="no symbols to match"):
        run("run_matcher", "--symbols", "DOGE/USDT", "--until-idle")


def test_run_matcher_stops_before_matching_when_signalled_while_standing_by(symbol, restore_signals, monkeypatch):
    # A second connection holds the symbol's lock, as a live matcher would.
    import psycopg
    from django.db import connection

    from matching.management.commands import run_matcher

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(autocommit=True, **params) as owner:
        owner.execute("SELECT pg_advisory_lock(%s, %s)", (run_matcher.ADVISORY_NAMESPACE, symbol.id))
        command = run_matcher.Command()
        sleeps = []

        def fake_sleep(seconds):  # the standby loop: ask it to stop after one wait
            sleeps.append(seconds)
            command.stopping = True

        monkeypatch.setattr(run_matcher.time, "sleep", fake_sleep)
        out = StringIO()
        command.stdout = command.stdout.__class__(out)
        command.handle(symbols="", batch_size=10, until_idle=True)
    assert sleeps == [0.5]
    assert "owns" not in out.getvalue()


def test_run_matcher_raises_the_gc_thresholds_and_freezes_the_books_it_loaded(symbol, alice, restore_signals, monkeypatch):
    place(alice, symbol, "SELL", "1", "100.00")
    seen = []
    monkeypatch.setattr(gc, "set_threshold", lambda *thresholds: seen.append(("thresholds", thresholds)))
    monkeypatch.setattr(gc, "unfreeze", lambda: seen.append("unfreeze"))
    monkeypatch.setattr(gc, "freeze", lambda: seen.append("freeze"))
    load = Matcher.load

    def recording_load(matcher):
        load(matcher)
        seen.append(("loaded", len(matcher.books[symbol.id].engine.resting)))

    monkeypatch.setattr(Matcher, "load", recording_load)

    run("run_matcher", "--symbols", "btc-usdt", "--until-idle")

    assert seen == [("thresholds", host.GC_THRESHOLDS), "unfreeze", "freeze", ("loaded", 0)]
