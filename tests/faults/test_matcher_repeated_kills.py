"""kill -9 the matcher again and again while clients keep placing and
cancelling orders: no order is lost or stored twice, the book equals a replay
of the journal (`manage.py verify_book`), and once every trade has settled
the money invariants hold (`manage.py reconcile`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_futures

import pytest

from tests.support.exchange_client import HTTP_TIMEOUT, Flow, Ledger, assert_consistent, traders_for
from tests.support.polling import wait_until

pytestmark = pytest.mark.e2e

KILLS = 4
ACTIONS = 240
THREADS = 8


def test_no_order_is_lost_or_duplicated_across_repeated_matcher_kills(stack):
    ledger = Ledger()
    flow = Flow(31337, traders_for(stack), ledger, "rk")
    for _ in range(20):  # a book to trade against, and orders to cancel
        flow.next_action(live=True, cancels=False)()
    actions = [flow.next_action(live=False) for _ in range(ACTIONS)]

    kills = 0
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(action) for action in actions]
        # Kill at evenly spread points of the stream, each time with requests in flight.
        for k in range(KILLS):
            threshold = (k + 1) * ACTIONS // (KILLS + 2)
            wait_until(lambda: sum(f.done() for f in futures) >= threshold, timeout=60, interval=0.01,
                       what=f"{threshold} requests answered", on_timeout=stack.logs)
            stack.kill("matcher")
            kills += 1
            stack.start_matcher()
        done, not_done = wait_futures(futures, timeout=HTTP_TIMEOUT * 4)
        assert not not_done, f"{len(not_done)} requests never answered"
        for future in done:
            future.result()

    assert kills == KILLS
    assert stack.processes["matcher"].alive()
    assert not any(isinstance(status, int) and status >= 500 for _, status in ledger.answers), ledger.answers
    assert ledger.count("POST", 201) > 50, ledger.answers
    assert stack.db.scalar("SELECT count(*) FROM orders_trade") > 20, "the stream should trade"
    # Re-sent requests return the stored order, never a second one.
    for coid in sorted(ledger.placed)[-5:]:
        ledger.repeat(coid)

    assert_consistent(stack, ledger)  # includes verify_book and waiting for settlement
    reconcile = stack.db.manage("reconcile", check=False)
    assert reconcile.returncode == 0, f"reconcile failed:\n{reconcile.stdout}\n{reconcile.stderr}"
