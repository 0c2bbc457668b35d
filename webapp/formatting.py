"""How numbers and times read on the page: kWh with one decimal and thousands separators, hours,
durations, and times in the site's zone. Registered as Jinja filters.

Rounding is half up on the decimal value, the way a spreadsheet rounds the CSV's column, so a total
shown here equals the CSV's sum rounded to the digit shown.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal

from flask import Flask, current_app

from projector.money.costs import display_text
from projector.records import FLAG_TEXT

END_REASON_TEXT = {
    "stopped": "The charge ended normally (the car or a timer stopped it).",
    "unplugged": "The car was unplugged while charging.",
    "paused": "Charging was paused (sleeping, a schedule or a solar divert), then maybe resumed.",
    "disabled": "The charger was disabled.",
    "fault": "The charger reported a fault (e.g. GFCI, stuck relay, over-temperature).",
    "reboot": "The charger restarted during the charge.",
    "gap": "Data stopped while charging and the charger no longer charged when it resumed; "
    "the cycle ends at the last moment it was known charging.",
}


def tenths(value: float, unit: int) -> str:
    """value / unit with one decimal, half up (as a spreadsheet rounds the CSV's column), with
    thousands separators; the value's shortest decimal form is what gets rounded."""
    number = (Decimal(repr(float(value))) / unit).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{number:,}"


def kwh(wh: float) -> str:
    """Wh as kWh with one decimal, half up."""
    return tenths(wh, 1000)


def hours(seconds: int) -> str:
    """Seconds as hours with one decimal, half up."""
    return tenths(seconds, 3600)


def duration(seconds: int | float) -> str:
    """A span people read at a glance: 45 min, 2 h 05 min, 3 d 4 h."""
    minutes = int(seconds) // 60
    if minutes < 60:
        return f"{minutes} min"
    hours_, minutes = divmod(minutes, 60)
    if hours_ < 48:
        return f"{hours_} h {minutes:02d} min"
    days, hours_ = divmod(hours_, 24)
    return f"{days} d {hours_} h"


def zone() -> tzinfo:
    """The site's zone, parsed once by create_app."""
    zone_: tzinfo = current_app.config["SITE_ZONE"]
    return zone_


def local(moment: datetime | None, fmt: str = "%a %-d %b %Y %H:%M") -> str:
    """A UTC moment as the site's local time."""
    if moment is None:
        return ""
    return moment.astimezone(zone()).strftime(fmt)


def end_time(start: datetime, end: datetime | None) -> str:
    """The end's clock time, with its day only when it is not the start's local day."""
    if end is None:
        return ""
    same_day = start.astimezone(zone()).date() == end.astimezone(zone()).date()
    return local(end, "%H:%M" if same_day else "%a %-d %b %H:%M")


def span(start: datetime, end: datetime | None, now: datetime) -> str:
    """How long from start to end (or to now while still open)."""
    return duration(((end or now) - start) / timedelta(seconds=1))


def power(watts: float | None) -> str:
    """Watts as kW with one decimal."""
    return "" if watts is None else f"{watts / 1000:,.1f} kW"


def counter(value: float | None) -> str:
    """An energy counter reading, in its own unit."""
    return "" if value is None else f"{value:,.1f}"


def flag_detail(name: str, value: int) -> str:
    """The number a flag carries, said in words (a gap's seconds, a count of bad values)."""
    if name == "gap":
        return f"{duration(value)} without data" if value >= 60 else f"{value} s without data"
    if name == "clock_jump":
        return f"clock back {duration(value)}" if value >= 60 else f"clock back {value} s"
    if name in ("bad_values", "reboot", "counter_rollback", "two_devices") and value > 1:
        return f"{value} times"
    return ""


def init_app(app: Flask) -> None:
    """Registers the filters and the texts every template uses."""
    app.jinja_env.filters.update(
        kwh=kwh,
        hours=hours,
        duration=duration,
        local=local,
        power=power,
        counter=counter,
        # "12.40 EUR", "3.10 CHF + 12.40 EUR", or "" when nothing was priced (no cost, never
        # 0.00): projector.money.costs' one rule, on every page.
        cost=display_text,
    )
    app.jinja_env.globals.update(
        FLAG_TEXT=FLAG_TEXT,
        END_REASON_TEXT=END_REASON_TEXT,
        end_time=end_time,
        span=span,
        flag_detail=flag_detail,
    )
    app.context_processor(lambda: {"zone_name": str(zone())})
