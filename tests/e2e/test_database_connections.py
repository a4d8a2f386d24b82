"""The processes keep their database connections: the Celery worker settles
trade after trade on one connection instead of opening one per task, and
every connection says which process holds it."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.e2e


def test_the_worker_settles_every_trade_on_one_kept_connection(stack):
    alice = {"Authorization": f"Bearer {stack.token('alice')}"}
    bob = {"Authorization": f"Bearer {stack.token('bob')}"}
    order = {"symbol": "BTC/USDT", "type": "LIMIT", "quantity": "0.01", "price": "30000.00"}
    for _ in range(10):
        sell = requests.post(f"{stack.base_url}/api/v1/orders", json={**order, "side": "SELL"}, headers=alice, timeout=30)
        buy = requests.post(f"{stack.base_url}/api/v1/orders", json={**order, "side": "BUY"}, headers=bob, timeout=30)
        assert (sell.status_code, buy.status_code, buy.json()["status"]) == (201, 201, "FILLED")
    stack.wait_until_settled(timeout=30)

    first_settled = stack.db.scalar("SELECT min(settled_at) FROM orders_trade")
    worker = stack.db.query(
        "SELECT backend_start FROM pg_stat_activity WHERE datname = %s AND application_name = 'celery worker'",
        (stack.db.name,),
    )
    assert len(worker) == 1  # one connection, still open after ten tasks
    assert worker[0][0] < first_settled  # the one that settled the first of them

    names = {row[0] for row in stack.db.query(
        "SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname = %s", (stack.db.name,))}
    assert {"daphne", "run_matcher", "celery worker"} <= names
