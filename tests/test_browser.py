"""A real browser on the demo data: Playwright for Python driving Debian's Chromium (headless,
no browser download). The page must show its totals, draw both charts, expand a session, and
log no error to the console."""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from chargelog.commands.demo import build, demo_spec
from journal.config import Config, DatabaseConfig
from journal.storage import open_store
from tests.services import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from waitress import create_server

    from webapp import create_app

    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    with open_store(url) as store:
        build(store, demo_spec(30, datetime.now(UTC)), show_progress=False)
    port = free_port()
    server = create_server(
        create_app(Config(database=DatabaseConfig(url=url))), host="127.0.0.1", port=port
    )
    threading.Thread(target=server.run, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


def number(text: str) -> float:
    """The first number in a text as the page shows it (thousands separators, a unit after)."""
    match = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    assert match, f"no number in {text!r}"
    return float(match.group(0).replace(",", ""))


def test_sessions_page_in_chromium(demo_site: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with urllib.request.urlopen(f"{demo_site}/api/sessions", timeout=30) as response:
        sessions = json.load(response)
    assert sessions, "the demo has sessions"
    total_kwh = sum(s["energy_wh"] for s in sessions) / 1000

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(demo_site + "/", wait_until="networkidle")

            # the same total as the API, to the last digit shown (rounded once, half up)
            shown = Decimal(str(total_kwh)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
            assert number(page.inner_text("#total-all [data-total=kwh]")) == float(shown)
            assert number(page.inner_text("#total-all [data-total=count]")) == len(sessions)
            # the demo's tariff prices it: the exact costs' sum, rounded once
            due = sum(
                (Decimal(s["costs_exact"]["EUR"]) for s in sessions if s["costs_exact"]), Decimal(0)
            )
            cost = due.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            assert cost > 0
            assert page.inner_text("#total-all [data-total=cost]").strip() == f"{cost} EUR"

            for chart in ("#chart-daily", "#chart-monthly"):
                page.wait_for_selector(f"{chart}[data-drawn=true]", timeout=10_000)
                box = page.locator(chart).bounding_box()
                assert box is not None and box["width"] > 100 and box["height"] > 50

            first = page.locator("details.session").first
            assert first.get_attribute("open") is None
            first.locator("summary").click()
            assert first.get_attribute("open") is not None
            assert first.locator("table, .cycles, li").count() > 0

            page.screenshot(path=str(tmp_path / "sessions.png"), full_page=True)
            assert (tmp_path / "sessions.png").stat().st_size > 10_000

            # the balance: what is due is that same total; the demo's one payment is listed
            page.goto(demo_site + "/balance", wait_until="networkidle")
            assert number(page.inner_text("[data-figure=due]")) == float(cost)
            assert "demo: a transfer" in page.inner_text("body")

            # a statement, printed: no navigation on paper, the totals still there
            month = sessions[-1]["plugged_at"][:7]
            page.goto(f"{demo_site}/statements/{month}", wait_until="networkidle")
            assert page.locator("nav").first.is_visible()
            page.emulate_media(media="print")
            assert not page.locator("nav").first.is_visible()
            assert "EUR" in page.inner_text("body")
            page.pdf(path=str(tmp_path / "statement.pdf"))
            assert (tmp_path / "statement.pdf").stat().st_size > 5_000
        finally:
            browser.close()
    assert problems == []
