"""The signing example in docs/api.md, run as written against a real HTTP
server (pytest-django's live server)."""

from __future__ import annotations

import re
from pathlib import Path

from apikeys.models import ApiKey
from orders.models import Order

from .conftest import make_key

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def example_code() -> str:
    section = DOCS.read_text().split("## API keys", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_documented_example_reads_and_places_an_order(live_server, symbol, alice):
    created = make_key(alice)
    code = example_code().replace("http://127.0.0.1:8000", live_server.url)
    code = code.replace('API_KEY, SECRET = "...", "..."', f'API_KEY, SECRET = "{created.key.api_key}", "{created.secret}"')
    namespace: dict = {}

    exec(compile(code, str(DOCS), "exec"), namespace)  # both calls of the example run

    read = namespace["signed"]("GET", "/api/v1/orders?symbol=BTC-USDT")
    assert read.status_code == 200, read.text
    assert [o["price"] for o in read.json()["results"]] == ["50000.00"]
    assert Order.objects.filter(user=alice).count() == 1
    assert ApiKey.objects.get(id=created.key.id).last_used_at is not None
