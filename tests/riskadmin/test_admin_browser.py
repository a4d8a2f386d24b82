"""The Django admin in a real headless browser: an operator halts a market."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from riskadmin.models import AuditLog, Symbol
from tests.factories import make_symbol, make_user

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,900",
]


def _browser_binaries() -> tuple[str, str] | None:
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        subprocess.run([str(ROOT / "scripts" / "ensure_browser.sh")], check=False)
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    binaries = _browser_binaries()
    if binaries is None:
        pytest.skip("chromium and chromedriver are not installed (scripts/ensure_browser.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = binaries[0]
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=binaries[1]))
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def test_operator_halts_a_symbol_from_the_admin_with_a_reason(live_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    symbol = make_symbol("BTC/USDT")
    make_user("ops", password="ops-pass-123", is_staff=True)
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username="ops").update(is_superuser=True)

    browser.get(f"{live_server.url}/admin/login/?next=/admin/riskadmin/symbol/")
    browser.find_element(By.NAME, "username").send_keys("ops")
    browser.find_element(By.NAME, "password").send_keys("ops-pass-123")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    browser.find_element(By.CSS_SELECTOR, f"input[name=_selected_action][value='{symbol.pk}']").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value("halt")
    browser.find_element(By.NAME, "index").click()

    assert "Halt trading" in browser.page_source
    browser.find_element(By.NAME, "reason").send_keys("exchange wallet incident")
    browser.find_element(By.NAME, "apply").click()

    assert "Halted: BTC/USDT." in browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text
    stored = Symbol.objects.get(id=symbol.id)
    assert (stored.status, stored.halt_reason) == ("HALTED", "exchange wallet incident")
    entry = AuditLog.objects.get(action="trading.halt")
    assert (entry.actor_name, entry.payload["reason"]) == ("ops", "exchange wallet incident")
