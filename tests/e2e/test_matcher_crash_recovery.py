"""kill -9 the matcher under load, over real HTTP, with real processes.

Afterwards: no order is lost or duplicated, every journalled command was
applied exactly once, the stored book and trades equal a fresh replay of the
journal (`manage.py verify_book`), and once the Celery worker has settled
every trade, each asset's balances add up to what was deposited.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

import pytest

from tests.support.exchange_client import HTTP_TIMEOUT, Flow, Ledger, assert_consistent, traders_for
from tests.support.polling import wait_until

pytestmark = pytest.mark.e2e


def test_orders_survive_a_matcher_kill_between_requests(stack):
    traders = traders_for(stack)
    ledger = Ledger()
    flow = Flow(20241125, traders, ledger, "k1")

    for _ in range(100):
        flow.next_action(live=True)()
    assert ledger.count("POST", 201) > 50
    for coid in random.Random(1).sample(sorted(ledger.placed), 3):
        ledger.repeat(coid)

    stack.kill("matcher")
    before = dict(ledger.placed)
    actions = [flow.next_action(live=False) for _ in range(100)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        for future in [pool.submit(action) for action in actions]:
            future.result(timeout=HTTP_TIMEOUT * 2)
    assert ledger.count("POST", "202 PENDING") >= 1, ledger.answers
    while_down = sorted(set(ledger.placed) - set(before))
    for coid in while_down[:3]:
        ledger.repeat(coid)

    stack.start_matcher()
    for _ in range(100):
        flow.next_action(live=True)()
    for coid in random.Random(2).sample(sorted(ledger.placed), 3):
        ledger.repeat(coid)

    assert not any(isinstance(status, int) and status >= 500 for _, status in ledger.answers), ledger.answers
    assert stack.db.scalar("SELECT count(*) FROM orders_trade") > 20, "the stream should trade"
    assert_consistent(stack, ledger)


def test_orders_survive_a_matcher_kill_mid_burst(stack):
    traders = traders_for(stack)
    ledger = Ledger()
    flow = Flow(7, traders, ledger, "k2")
    for _ in range(20):  # a book to trade against
        flow.next_action(live=True, cancels=False)()

    actions = [flow.next_action(live=False) for _ in range(50)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        futures = [pool.submit(action) for action in actions]
        wait_until(lambda: sum(f.done() for f in futures) >= 8, timeout=30, what="the burst to get going", interval=0.01)
        stack.kill("matcher")
        done, not_done = wait_futures(futures, timeout=HTTP_TIMEOUT * 2)
        assert not not_done
        for future in done:
            future.result()
    assert ledger.count("POST", "202 PENDING") >= 1, ledger.answers

    stack.start_matcher()
    for coid in sorted(ledger.placed)[-3:]:
        ledger.repeat(coid)
    assert not any(isinstance(status, int) and status >= 500 for _, status in ledger.answers), ledger.answers
    assert_consistent(stack, ledger)
