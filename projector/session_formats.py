"""The sessions read model (projector.sessions) as text: the JSON that `chargelog sessions
--format json` and /api/sessions print (the same bytes), the CSVs of `--format csv` and
/sessions.csv (one column list), and the CLI's table for people.

Costs stay exact (Decimal) on the rows and are printed here, by projector.money.costs: JSON gets
its `cost_fields` and `exact_fields`, a CSV row its `columns` (the cost as shown, exact, and the
currency, so a column of `cost_exact` sums to the exact total), the table `display_text`, its
total being the exact sum rounded once. Times in JSON and CSV are UTC, ISO 8601 to the second
with a Z; the table and the CSV's local columns use the site's time zone."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from projector.money.costs import columns, cost_fields, display_text, exact_fields, sum_amounts
from projector.sessions import CycleRow, SessionRow

# ---- JSON --------------------------------------------------------------------------------------


def utc_iso(moment: datetime | None) -> str | None:
    """A UTC time as ISO 8601 with a Z, to the second (what the JSON and the CSVs carry)."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _energy_wh(wh: float) -> float:
    """Energy as the JSON gives it: Wh to three decimals."""
    return round(wh, 3)


def cycle_json(c: CycleRow) -> dict[str, Any]:
    """One cycle in the JSON contract, with its cost as every view gives it and exactly."""
    return {
        "id": c.id,
        "started_at": utc_iso(c.started_at),
        "ended_at": utc_iso(c.ended_at),
        "energy_wh": _energy_wh(c.wh),
        "end_reason": c.end_reason,
        "charging_s": c.charging_s,
        "peak_power_w": c.peak_power_w,
        "counter_start": c.counter_start,
        "counter_end": c.counter_end,
        "flags": list(c.flags),
        "flag_details": dict(c.flags),
        **cost_fields(c.costs),
        **exact_fields(c.costs),
    }


def meter_fields(s: SessionRow) -> dict[str, Any]:
    """The lifetime meter at plug-in and at the session's last reading (Wh), and its rise net
    of a rollback (what the session's energy is checked against), or None where not read."""
    if s.meter is None:
        return {"meter_start_wh": None, "meter_end_wh": None, "meter_wh": None}
    start, end, _ = s.meter
    rise = s.meter_wh
    assert rise is not None
    return {"meter_start_wh": start, "meter_end_wh": end, "meter_wh": round(rise, 3)}


def session_json(s: SessionRow) -> dict[str, Any]:
    """One session in the JSON contract, its cycles last."""
    return {
        "id": s.id,
        "charger": s.charger,
        "plugged_at": utc_iso(s.plugged_at),
        "unplugged_at": utc_iso(s.unplugged_at),
        "energy_wh": _energy_wh(s.wh),
        "charging_s": s.charging_s,
        "cycle_count": s.cycle_count,
        "flags": list(s.flags),
        "flag_details": dict(s.flags),
        **cost_fields(s.costs),
        **exact_fields(s.costs),
        **meter_fields(s),
        "rfid": s.rfid,
        "cycles": [cycle_json(c) for c in s.cycles],
    }


def as_json(sessions: Sequence[SessionRow]) -> str:
    """`chargelog sessions --format json` and /api/sessions, byte for byte."""
    return json.dumps([session_json(s) for s in sessions], indent=2, ensure_ascii=False) + "\n"


# ---- CSV ---------------------------------------------------------------------------------------

# The one column list. /sessions.csv has every column; `chargelog sessions --format csv` has
# all but LOCAL_COLUMNS (it has no site calendar to speak of), in the same order.
CSV_COLUMNS = (
    "id",
    "charger",
    "month",
    "plugged_local",
    "unplugged_local",
    "plugged_at",
    "unplugged_at",
    "energy_kwh",
    "charging_s",
    "plugged_s",
    "cycles",
    "cost",
    "cost_exact",
    "currency",
    "flags",
)
LOCAL_COLUMNS = frozenset({"month", "plugged_local", "unplugged_local", "plugged_s"})
CLI_CSV_COLUMNS = tuple(c for c in CSV_COLUMNS if c not in LOCAL_COLUMNS)
_LOCAL = "%Y-%m-%d %H:%M:%S"


def exact_kwh(wh: float) -> str:
    """The stored Wh (three decimals) in kWh without rounding: the column sums to the totals."""
    return f"{Decimal(repr(wh)) / 1000:f}"


def _shared_values(s: SessionRow) -> dict[str, Any]:
    """The columns both CSVs fill alike."""
    cost, cost_exact, currency = columns(s.costs)
    return {
        "id": s.id,
        "charger": s.charger,
        "plugged_at": utc_iso(s.plugged_at),
        "unplugged_at": utc_iso(s.unplugged_at) or "",
        "charging_s": s.charging_s,
        "cost": cost,
        "cost_exact": cost_exact,
        "currency": currency,
        "flags": " ".join(s.flags),
    }


def _export_values(s: SessionRow, zone: tzinfo) -> dict[str, Any]:
    """/sessions.csv: the local month and times, energy exact, the stored cycle count."""
    local = s.plugged_at.astimezone(zone)
    unplugged = s.unplugged_at
    return {
        **_shared_values(s),
        "month": f"{local.year:04d}-{local.month:02d}",
        "plugged_local": local.strftime(_LOCAL),
        "unplugged_local": unplugged.astimezone(zone).strftime(_LOCAL) if unplugged else "",
        "energy_kwh": exact_kwh(s.wh),
        "plugged_s": int((unplugged - s.plugged_at).total_seconds()) if unplugged else "",
        "cycles": s.cycle_count,
    }


def _cli_values(s: SessionRow) -> dict[str, Any]:
    """`--format csv`: energy to the Wh (as the JSON's energy_wh), the cycles listed."""
    return {
        **_shared_values(s),
        "energy_kwh": f"{_energy_wh(s.wh) / 1000:.3f}",
        "cycles": len(s.cycles),
    }


def _csv(header: Sequence[str], rows: Sequence[dict[str, Any]], line_end: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow(header)
    writer.writerows([row[c] for c in header] for row in rows)
    return out.getvalue()


def export_csv(sessions: Sequence[SessionRow], zone: tzinfo) -> str:
    """/sessions.csv: every column, CRLF line ends (RFC 4180, for spreadsheets)."""
    return _csv(CSV_COLUMNS, [_export_values(s, zone) for s in sessions], "\r\n")


def as_csv(sessions: Sequence[SessionRow]) -> str:
    """`chargelog sessions --format csv`: the columns but the local ones, LF line ends."""
    return _csv(CLI_CSV_COLUMNS, [_cli_values(s) for s in sessions], "\n")


# ---- the table ---------------------------------------------------------------------------------


def _local(moment: datetime | None, zone: tzinfo) -> str:
    if moment is None:
        return "plugged"
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _hours(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}"


def as_table(sessions: Sequence[SessionRow], zone: tzinfo) -> str:
    """`chargelog sessions`: one line per session in local time, then the totals."""
    header = ("plugged", "unplugged", "charger", "kWh", "charging", "cycles", "cost", "flags")
    rows = [
        (
            _local(s.plugged_at, zone),
            _local(s.unplugged_at, zone),
            s.charger,
            f"{_energy_wh(s.wh) / 1000:,.1f}",
            _hours(s.charging_s),
            str(len(s.cycles)),
            display_text(s.costs),
            ",".join(s.flags),
        )
        for s in sessions
    ]
    total_kwh = sum(_energy_wh(s.wh) for s in sessions) / 1000
    total_s = sum(s.charging_s for s in sessions)
    total_cost = display_text(sum_amounts(s.costs for s in sessions))
    count = f"{len(sessions)} sessions"
    rows.append(("total", "", count, f"{total_kwh:,.1f}", _hours(total_s), "", total_cost, ""))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {3, 4, 5, 6}
    lines = []
    for row in [header, *rows]:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"
