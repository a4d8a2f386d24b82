"""A request whose transaction PostgreSQL aborts to break a deadlock (the
matcher locking the same order and balance rows the other way round) is run
again, and goes through."""

from __future__ import annotations

import threading

import psycopg
from django.db import connection

from orders.cancellation import CancelRef
from orders.models import Order
from orders.services import submit_batch
from settlement.models import Balance
from tests.factories import make_user, order_request, place


def test_a_batch_aborted_by_a_deadlock_is_run_again(transactional_db, symbol, caplog):
    maker = make_user(funds={"USDT": "1000"})
    quote = place(maker, symbol, "BUY", "1", "100.00")
    balance_id = Balance.objects.get(user=maker, asset="USDT").id
    other = psycopg.connect(_conninfo(), autocommit=False)
    holding = threading.Event()

    def other_side() -> None:
        """Hold the maker's balance, then want the order the batch holds."""
        with other.cursor() as cursor:
            cursor.execute("SET deadlock_timeout = '10s'")  # the batch's backend detects the cycle first
            cursor.execute("SELECT 1 FROM settlement_balance WHERE id = %s FOR UPDATE", [balance_id])
            holding.set()
            wait_until_blocked(balance_id)
            cursor.execute("UPDATE orders_order SET updated_at = now() WHERE id = %s", [quote.id])
        other.commit()

    thread = threading.Thread(target=other_side)
    thread.start()
    holding.wait(10)
    batch = submit_batch(user=maker, cancels=[CancelRef(quote.id)], orders=[order_request(symbol, "BUY", "1", "99.00")])
    thread.join(20)
    other.close()

    assert "broken by a deadlock" in caplog.text  # PostgreSQL did abort it once
    assert [p.error for p in batch.placements] == [None]
    assert Order.objects.filter(user=maker).count() == 2


def _conninfo() -> str:
    params = connection.settings_dict
    return f"host={params['HOST']} port={params['PORT']} dbname={params['NAME']} user={params['USER']}"


def wait_until_blocked(balance_id: int) -> None:
    """Until another backend waits for a lock (the batch, on the balance)."""
    with psycopg.connect(_conninfo(), autocommit=True) as watcher:
        for _ in range(1000):
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()[0]
            if waiting:
                return
            threading.Event().wait(0.01)
    raise AssertionError("the batch never waited for the balance")
