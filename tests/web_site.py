"""A small site for the web tests, in Europe/Paris: three chargers (5.x, 2.x, and one whose base
topic is HTML) with sessions placed on the calendar's sharp edges: 00:01 on the 1st of a month,
23:58 the night before, the night DST starts, a month that starts in summer time; a long session
of 1 Hz-ish power for the detail chart; a live one; and recent traffic for the health page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from journal.config import Config, DatabaseConfig, SiteConfig, WebConfig
from journal.storage import Store
from projector.runner import project_pass
from tests.charge_script import Script
from tests.test_projection_store import journal

ZONE = "Europe/Paris"
MODERN = "openevse-aaaa"  # 5.x
LEGACY = "openevse"  # 2.x
EVIL = "<script>alert(1)</script>"  # a base topic that is HTML
RECENT = "openevse-new"  # idle traffic of the last days


def at(text: str) -> float:
    """A UTC time as the scripts' float seconds."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def plug_at(script: Script, moment: str) -> Script:
    """Idle until just before `moment`, so the plug-in message lands exactly on it."""
    script.t = at(moment) - 30
    return script.idle(0.5, 1).plug()


def messages(now: datetime) -> list[tuple[float, str, bytes, bool]]:
    a = Script(firmware="5.x", charger=MODERN)  # 2026-01-01 10:00 UTC
    a.idle(1, 1).plug().state(3).charge(30).state(254).idle(5, 254).state(3).charge(15)
    a.state(2).unplug()
    # 00:01 on 1 February in Paris (23:01 UTC on 31 January): February, not January.
    plug_at(a, "2026-01-31 23:01:00").state(3).charge(10).state(2).unplug()
    # 00:30 on 30 March, the first night of summer time (22:30 UTC on the 29th).
    plug_at(a, "2026-03-29 22:30:00").state(3).charge(5).state(2).unplug()
    # 00:30 on 1 April in summer time (22:30 UTC on 31 March): April, not March.
    plug_at(a, "2026-03-31 22:30:00").state(3).charge(20).state(2).unplug()
    # A long one, with a power cut: the detail chart has to downsample it.
    plug_at(a, "2026-04-10 06:00:00").state(3).charge(100).power_loss(3).state(3).charge(200)
    a.state(2).unplug()
    # Still charging when the journal ends: the "charging now" banner.
    plug_at(a, "2026-04-20 17:00:00").state(3).charge(5)

    b = Script(firmware="2.x", charger=LEGACY, t=at("2026-01-01 11:00:00"))
    b.idle(1, 1).plug().idle(10, 2).unplug()  # plugged, never charged
    plug_at(b, "2026-01-15 18:00:00").state(3).charge(60).state(2).unplug()

    # 23:58 on 31 January in Paris: still January.
    evil = Script(firmware="5.x", charger=EVIL)
    plug_at(evil, "2026-01-31 22:58:00").state(3).charge(1).state(2).unplug()

    # Recent idle traffic with a silence of a day: a recorder gap on the health page.
    recent = Script(firmware="5.x", charger=RECENT, t=now.timestamp() - 3 * 86400)
    recent.idle(1, 1).wait(86400).idle(1, 1)
    return sorted(a.messages + b.messages + evil.messages + recent.messages, key=lambda m: m[0])


def build(store: Store, now: datetime) -> None:
    journal(store, messages(now))
    while project_pass(store).entries:
        pass


def web_config(url: str, **web: Any) -> Config:
    """The site's configuration: its database, Paris, and [web] settings."""
    return Config(
        database=DatabaseConfig(url=url), site=SiteConfig(timezone=ZONE), web=WebConfig(**web)
    )


def _segment(html: str, anchor: str, end: str) -> str:
    start = html.index(anchor)
    return html[start : html.index(end, start)]


def shown_totals(html: str, anchor: str, end: str = "</dl>") -> dict[str, str]:
    """The totals a page shows after `anchor` (an id="..." attribute), as their text."""
    part = _segment(html, anchor, end)
    return dict(re.findall(r'data-total="(\w+)">([^<]*?)(?: kWh| h)?<', part))


def session_ids(html: str) -> list[int]:
    """The sessions a page lists, in order."""
    return [int(n) for n in re.findall(r'<details class="session" id="session-(\d+)"', html)]
