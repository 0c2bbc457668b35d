"""`chargelog sessions` output formats: a table for people, CSV and JSON for scripts.

Costs follow projector.money.costs: the CSV carries each session's cost as shown and exact (that
column
sums to the exact total), the table shows them rounded and its total is the exact sum rounded
once."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from projector.money.costs import Amounts, columns, display_text, sum_amounts

CSV_COLUMNS = (
    "id",
    "charger",
    "plugged_at",
    "unplugged_at",
    "energy_kwh",
    "charging_s",
    "cycles",
    "cost",
    "cost_exact",
    "currency",
    "flags",
)


def as_json(sessions: list[dict[str, Any]]) -> str:
    return json.dumps(sessions, indent=2, ensure_ascii=False) + "\n"


def exact_costs(session: dict[str, Any]) -> Amounts:
    """A listed session's (or cycle's) exact cost per currency, from its `costs_exact` key."""
    return {c: Decimal(text) for c, text in session.get("costs_exact", {}).items()}


def as_csv(sessions: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in sessions:
        writer.writerow(
            [
                s["id"],
                s["charger"],
                s["plugged_at"],
                s["unplugged_at"] or "",
                f"{s['energy_wh'] / 1000:.3f}",
                s["charging_s"],
                len(s["cycles"]),
                *columns(exact_costs(s)),
                " ".join(s["flags"]),
            ]
        )
    return out.getvalue()


def _local(value: str | None, zone: tzinfo) -> str:
    if value is None:
        return "plugged"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M")


def _hours(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}"


def as_table(sessions: list[dict[str, Any]], zone: tzinfo) -> str:
    header = ("plugged", "unplugged", "charger", "kWh", "charging", "cycles", "cost", "flags")
    rows = [
        (
            _local(s["plugged_at"], zone),
            _local(s["unplugged_at"], zone),
            s["charger"],
            f"{s['energy_wh'] / 1000:,.1f}",
            _hours(s["charging_s"]),
            str(len(s["cycles"])),
            display_text(exact_costs(s)),
            ",".join(s["flags"]),
        )
        for s in sessions
    ]
    total_kwh = sum(s["energy_wh"] for s in sessions) / 1000
    total_s = sum(s["charging_s"] for s in sessions)
    total_cost = display_text(sum_amounts(exact_costs(s) for s in sessions))
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
