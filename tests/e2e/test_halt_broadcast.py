"""Halting and resuming a symbol is announced on its ticker stream, over real
processes (daphne, matcher, worker): a WebSocket client subscribed to
"ticker:BTC-USDT" gets the status event within a second of the operator's
HTTP response, whether the operator uses the admin API or the Django admin."""

from __future__ import annotations

import json
import queue
import threading
import time

import pytest
import requests
import websockets
import websockets.sync.client as ws_client

from .conftest import PASSWORD

pytestmark = pytest.mark.e2e

SYMBOL = "BTC/USDT"
CHANNEL = "ticker:BTC-USDT"
OPERATOR = "admin"  # staff, from seed_demo
ANNOUNCED_WITHIN = 1.0  # seconds after the operator's HTTP response
LATE_GRACE = 4.0  # listening on past that tells a late event from a missing one
TIMEOUT = 10


class TickerListener:
    """Subscribes an open WebSocket to CHANNEL. Once the subscription is
    acknowledged and the snapshot received, a thread reads every message and
    stamps it with the moment it arrived, until the socket closes."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.ws.send(json.dumps({"op": "subscribe", "channels": [CHANNEL]}))
        self._expect(lambda m: m.get("type") == "subscribed" and CHANNEL in m.get("channels", []),
                     "the subscription to be acknowledged")
        self._expect(lambda m: m.get("channel") == CHANNEL and m.get("type") == "snapshot", "the ticker snapshot")
        self.arrivals: queue.Queue[tuple[float, dict]] = queue.Queue()
        self.skipped: list[dict] = []  # by the last status_event()
        self.reader = threading.Thread(target=self._read, name="ticker-listener", daemon=True)
        self.reader.start()

    def _expect(self, wanted, what: str) -> dict:
        deadline = time.monotonic() + TIMEOUT
        seen = []
        while True:
            remaining = deadline - time.monotonic()
            try:
                message = json.loads(self.ws.recv(timeout=max(remaining, 0)))
            except TimeoutError:
                raise AssertionError(f"timed out after {TIMEOUT}s waiting for {what}; got {seen}") from None
            if wanted(message):
                return message
            seen.append(message)

    def _read(self) -> None:
        try:
            for raw in self.ws:
                self.arrivals.put((time.monotonic(), json.loads(raw)))
        except websockets.ConnectionClosed:
            pass

    def status_event(self, status: str, *, since: float, until: float) -> tuple[float, dict] | None:
        """(arrival time, data) of the first status event announcing `status`
        that arrived after `since`, or None if none arrived by `until`. Other
        messages (ticker updates, pings, older events) are skipped, and kept
        in `skipped` until the next call."""
        self.skipped = []
        while (remaining := until - time.monotonic()) > 0:
            try:
                arrived_at, message = self.arrivals.get(timeout=remaining)
            except queue.Empty:
                break
            data = message.get("data")
            if (arrived_at >= since and message.get("channel") == CHANNEL and message.get("type") == "update"
                    and isinstance(data, dict) and data.get("event") == "status" and data.get("status") == status):
                return arrived_at, data
            self.skipped.append(message)
        return None


@pytest.fixture
def listener(stack):
    with ws_client.connect(f"ws://127.0.0.1:{stack.port}/ws", open_timeout=TIMEOUT) as ws:
        client = TickerListener(ws)
        yield client
    client.reader.join(timeout=TIMEOUT)


def symbol_status(stack) -> str:
    symbols = requests.get(f"{stack.base_url}/api/v1/symbols", timeout=TIMEOUT).json()
    return next(s["status"] for s in symbols if s["symbol"] == SYMBOL)


def assert_announced(listener: TickerListener, stack, *, sent_at: float, answered_at: float, expected: dict) -> None:
    """The operator's change took effect, and `expected` reached the client
    as a status event on CHANNEL within ANNOUNCED_WITHIN of the response."""
    assert symbol_status(stack) == expected["status"], "the operator's change did not take effect"
    found = listener.status_event(expected["status"], since=sent_at, until=answered_at + ANNOUNCED_WITHIN + LATE_GRACE)
    assert found is not None, (
        f"no {expected['status']} status event on {CHANNEL} within {ANNOUNCED_WITHIN + LATE_GRACE:.0f}s of the "
        f"operator's response, although {SYMBOL} is {expected['status']} (GET /api/v1/symbols) and the client is "
        f"subscribed (acknowledged, snapshot received); other messages meanwhile: {listener.skipped}"
    )
    arrived_at, data = found
    delay = arrived_at - answered_at
    assert delay < ANNOUNCED_WITHIN, f"the {expected['status']} status event came {delay:.3f}s after the response"
    assert {key: data.get(key) for key in expected} == expected


def test_halt_and_resume_through_the_admin_api_are_announced_on_the_ticker_stream(stack, listener):
    headers = {"Authorization": f"Bearer {stack.token(OPERATOR)}"}
    admin_api = f"{stack.base_url}/api/v1/admin/trading"

    sent_at = time.monotonic()
    halted = requests.post(f"{admin_api}/halt/BTC-USDT", json={"reason": "wallet incident"}, headers=headers, timeout=TIMEOUT)
    answered_at = time.monotonic()
    assert halted.status_code == 200, halted.text
    assert_announced(listener, stack, sent_at=sent_at, answered_at=answered_at,
                     expected={"event": "status", "symbol": SYMBOL, "status": "HALTED", "reason": "wallet incident"})

    sent_at = time.monotonic()
    resumed = requests.post(f"{admin_api}/resume/BTC-USDT", json={}, headers=headers, timeout=TIMEOUT)
    answered_at = time.monotonic()
    assert resumed.status_code == 200, resumed.text
    assert_announced(listener, stack, sent_at=sent_at, answered_at=answered_at,
                     expected={"event": "status", "symbol": SYMBOL, "status": "TRADING"})


def admin_login(stack) -> requests.Session:
    session = requests.Session()
    login = f"{stack.base_url}/admin/login/"
    assert session.get(login, timeout=TIMEOUT).status_code == 200
    response = session.post(
        login,
        data={"username": OPERATOR, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"], "next": "/admin/"},
        allow_redirects=False, timeout=TIMEOUT,
    )
    assert (response.status_code, response.headers.get("Location")) == (302, "/admin/"), "the admin login failed"
    return session


def run_symbol_action(session: requests.Session, stack, *, action: str, reason: str) -> tuple[float, float]:
    """Tick the symbol on the changelist, run `action`, give the reason on the
    intermediate form and confirm. Returns (sent_at, answered_at) of the confirm."""
    changelist = f"{stack.base_url}/admin/riskadmin/symbol/"
    symbol_id = stack.db.scalar("SELECT id FROM riskadmin_symbol WHERE name = %s", (SYMBOL,))
    chosen = {"action": action, "_selected_action": str(symbol_id), "index": "0"}

    form = session.post(changelist, data={**chosen, "csrfmiddlewaretoken": session.cookies["csrftoken"]}, timeout=TIMEOUT)
    assert form.status_code == 200 and 'name="reason"' in form.text and 'name="apply"' in form.text, (
        f"expected the reason form for {action!r}, got {form.status_code}"
    )

    sent_at = time.monotonic()
    confirmed = session.post(
        changelist,
        data={**chosen, "reason": reason, "apply": "Confirm", "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        allow_redirects=False, timeout=TIMEOUT,
    )
    answered_at = time.monotonic()
    assert confirmed.status_code == 302, f"the {action!r} action answered {confirmed.status_code}"
    return sent_at, answered_at


def test_halt_and_resume_through_the_django_admin_are_announced_on_the_ticker_stream(stack, listener):
    session = admin_login(stack)

    sent_at, answered_at = run_symbol_action(session, stack, action="halt", reason="matching incident")
    assert_announced(listener, stack, sent_at=sent_at, answered_at=answered_at,
                     expected={"event": "status", "symbol": SYMBOL, "status": "HALTED", "reason": "matching incident"})

    sent_at, answered_at = run_symbol_action(session, stack, action="resume", reason="incident over")
    assert_announced(listener, stack, sent_at=sent_at, answered_at=answered_at,
                     expected={"event": "status", "symbol": SYMBOL, "status": "TRADING"})
