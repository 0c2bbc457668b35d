"""The sessions page `/` (issue 4): newest first, grouped by local month with totals that stay
complete across pages, filters, the live banner, cycles and flags when a session is expanded,
and the empty state of a new install."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from journal.storage import Store
from projector.records import FLAG_TEXT
from tests.web_site import EVIL, LEGACY, MODERN, session_ids, shown_totals, web_config
from webapp import create_app


def api(client: FlaskClient, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/api/sessions?{query}")
    assert response.status_code == 200
    return response.json  # type: ignore[return-value]


def html(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return response.text


def test_newest_first_in_local_months(client: FlaskClient) -> None:
    page = html(client, "/")
    assert session_ids(page) == [s["id"] for s in reversed(api(client))]
    assert len(session_ids(page)) == 9
    months = re.findall(r'<section class="month" id="month-(\d{4}-\d\d)"', page)
    assert months == ["2026-04", "2026-03", "2026-02", "2026-01"]
    assert re.findall(r'<h2 class="year" id="year-(\d+)"', page) == ["2026"]


def test_totals_all_time_and_per_month(client: FlaskClient) -> None:
    page = html(client, "/")
    assert shown_totals(page, 'id="total-all"') == {
        "count": "9",
        "kwh": "53.5",
        "hours": "7.4",
        "cost": "\N{EN DASH}",
    }
    assert shown_totals(page, 'id="month-title-2026-01"', "</h3>") == {
        "count": "4",
        "kwh": "12.7",
        "hours": "1.8",
    }
    assert shown_totals(page, 'id="year-2026"', "</h2>")["kwh"] == "53.5"


def test_live_session_banner(client: FlaskClient) -> None:
    live = [s for s in api(client) if s["unplugged_at"] is None]
    assert [s["charger"] for s in live] == [MODERN]
    page = html(client, "/")
    banner = page[page.index(f'id="live-{live[0]["id"]}"') :]
    banner = banner[: banner.index("</section>")]
    # The site's charger was last heard on 20 April: what the banner says is that moment's news.
    assert "Charging now" not in banner
    assert "Charging when last heard" in banner and "Mon 20 Apr 2026 19:" in banner
    assert "0.6 kWh" in banner


def test_the_banner_says_charging_now_for_a_charger_heard_lately(store: Store, db_url: str) -> None:
    from datetime import UTC, datetime

    from journal.entries import append, micros_text
    from projector.runner import project_pass
    from tests.charge_script import Script

    s = Script(firmware="5.x", charger=MODERN, t=datetime.now(UTC).timestamp() - 600)
    s.idle(1, 1).plug().state(3).charge(5)  # the last message about four minutes ago
    append(
        store, [(micros_text(round(t * 1e6)), topic, p, 0, int(r)) for t, topic, p, r in s.messages]
    )
    store.commit()
    project_pass(store)
    page = html(create_app(web_config(db_url), {"TESTING": True}).test_client(), "/")
    banner = page[page.index('class="live"') :]
    banner = banner[: banner.index("</section>")]
    assert "Charging now" in banner and "last heard" not in banner


def test_expanded_session_shows_cycles_and_explains_flags(client: FlaskClient) -> None:
    long = next(s for s in api(client) if s["flags"] == ["gap", "reboot"])
    page = html(client, "/")
    part = page[page.index(f'id="session-{long["id"]}"') :]
    part = part[: part.index("</details>")]
    assert "<summary" in part and "36.0" in part
    assert [c["end_reason"] for c in long["cycles"]] == ["reboot", "stopped"]
    assert ">reboot</abbr>" in part and ">stopped</abbr>" in part
    assert f'title="{FLAG_TEXT["reboot"]}"' in part  # the badge's hover text
    assert FLAG_TEXT["gap"] in part  # written out in the expanded session too
    assert "3 min 00" not in part and "3 min without data" in part
    assert f'href="/sessions/{long["id"]}"' in part


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("", 9),
        (f"charger={LEGACY}", 2),
        ("from=2026-04-01", 3),
        ("to=2026-01-31", 4),  # 23:58 on the 31st in Paris, not 00:01 on the 1st
        ("from=2026-02-01&to=2026-02-01", 1),
        ("month=2026-03", 1),  # 00:30 on 1 April (summer time) is April
        (f"month=2026-04&charger={MODERN}", 3),
        ("charger=nope", 0),
        ("from=2026-01-01&to=2026-12-31&charger=openevse-aaaa", 6),
    ],
)
def test_filters(client: FlaskClient, query: str, count: int) -> None:
    page = html(client, f"/?{query}")
    expected = [s["id"] for s in reversed(api(client, query))]
    assert session_ids(page) == expected and len(expected) == count
    assert shown_totals(page, 'id="total-all"')["count"] == str(count)
    if count == 0:
        assert 'id="no-match"' in page and "No sessions match these filters" in page


def test_filter_form_keeps_its_values(client: FlaskClient) -> None:
    page = html(client, f"/?month=2026-02&charger={MODERN}")
    assert 'name="from" value="2026-02-01"' in page and 'name="to" value="2026-02-28"' in page
    assert f'<option value="{MODERN}" selected>' in page
    assert 'href="/sessions.csv?month=2026-02&amp;charger=openevse-aaaa"' in page


@pytest.fixture
def small_pages(site_url: str) -> FlaskClient:
    return create_app(web_config(site_url), {"TESTING": True, "PAGE_SIZE": 3}).test_client()


def test_paging_keeps_month_totals_whole(small_pages: FlaskClient) -> None:
    everything = [s["id"] for s in reversed(api(small_pages))]
    pages = [html(small_pages, f"/?page={n}") for n in (1, 2, 3)]
    assert [session_ids(p) for p in pages] == [everything[:3], everything[3:6], everything[6:]]
    assert "Page 2 of 3" in pages[1] and 'rel="next" href="/?page=3"' in pages[1]
    # January starts on page 2 and ends on page 3; both show all of it
    for page in pages[1:]:
        assert shown_totals(page, 'id="month-title-2026-01"', "</h3>")["count"] == "4"
        assert shown_totals(page, 'id="total-all"')["kwh"] == "53.5"
    assert "1 of 4 sessions of this month on this page" in pages[1]
    assert "No sessions on this page" in html(small_pages, "/?page=9")


def test_paging_keeps_the_filters(small_pages: FlaskClient) -> None:
    page = html(small_pages, f"/?charger={MODERN}")
    assert f'href="/?page=2&amp;charger={MODERN}"' in page


def test_empty_install_points_to_health(fresh_app: Flask) -> None:
    page = html(fresh_app.test_client(), "/")
    assert "No sessions yet; is the recorder running?" in page
    assert 'href="/health"' in page[page.index('id="empty-state"') :]


def test_escaped_charger_in_the_filter_list(client: FlaskClient) -> None:
    page = html(client, "/")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert EVIL not in page
