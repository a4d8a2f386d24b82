"""Market-data fixtures: a private channel-layer prefix, no leftover Redis
snapshots, and a publisher that runs inline so tests see its output at once."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterator

import pytest

from core.redis import get_redis
from marketdata import keys
from marketdata.publisher import Publisher


@pytest.fixture(autouse=True)
def private_channel_layer(settings):
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"test-{secrets.token_hex(6)}"
    settings.CHANNEL_LAYERS = layers


@pytest.fixture(autouse=True)
def clean_market_keys(db):
    def clean():
        client = get_redis()
        for key in client.scan_iter(match=keys.book_snapshot_key("*")):
            client.delete(key)
        for key in client.scan_iter(match=keys.ws_stats_prefix() + "*"):
            client.delete(key)
        client.delete(keys.publisher_stats_key())

    clean()
    yield
    clean()


@pytest.fixture
def inline_publisher(monkeypatch) -> Iterator[Publisher]:
    """The matcher's publisher, publishing in the calling thread."""
    publisher = Publisher(threaded=False)
    monkeypatch.setattr("matching.host.publish", publisher.submit)
    yield publisher
    publisher.stop()  # its Redis client, channel layer and event loop
