"""The books against the charger's own meter: per charger and period, how far its lifetime meter
(`total_energy`) rose, how much of that the sessions counted, and where the rest went.

The projector writes what the meter did (meter_ledger, per plug-in session and per quarter hour
outside sessions, see projector.records.LedgerRow); this module sums it over the same half-open
ranges on plug-in time that every total uses, so a month's books are that month's sessions. The
identity they must satisfy:

    meter rise = sessions + gaps + rollbacks + resets + outside + remainder

where gaps is energy the meter took while nothing was heard (recorder, broker or network away),
rollbacks and resets are the meter going back (negative), outside is energy the session counter
saw outside every session; the remainder is what nothing explains, and the books close when it
is within the meter's resolution. Only chargers whose meter was read have books (2.x and 4.1.0
publish no `total_energy`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from journal.storage import Store
from projector.machine import METER_RESOLUTION_WH
from projector.sessions import SessionFilter, filter_sql

Range = tuple[datetime | None, datetime | None]
_LEDGER_SUMS = (
    "COALESCE(SUM(rise_wh), 0), COALESCE(SUM(gap_wh), 0), COALESCE(SUM(rollback_wh), 0), "
    "COALESCE(SUM(reset_wh), 0), COALESCE(SUM(outside_wh), 0)"
)


@dataclass(frozen=True)
class Books:
    """One charger's books over one period, in Wh."""

    charger: str
    meter_wh: float = 0.0
    sessions_wh: float = 0.0
    gaps_wh: float = 0.0
    rollbacks_wh: float = 0.0
    resets_wh: float = 0.0
    outside_wh: float = 0.0

    @property
    def remainder_wh(self) -> float:
        explained = self.sessions_wh + self.gaps_wh + self.rollbacks_wh + self.resets_wh
        return self.meter_wh - explained - self.outside_wh

    @property
    def closes(self) -> bool:
        """Whether the meter's rise is fully explained, to its resolution."""
        return abs(self.remainder_wh) < METER_RESOLUTION_WH

    def as_json(self) -> dict[str, Any]:
        return {
            "charger": self.charger,
            "meter_wh": round(self.meter_wh, 3),
            "sessions_wh": round(self.sessions_wh, 3),
            "gaps_wh": round(self.gaps_wh, 3),
            "rollbacks_wh": round(self.rollbacks_wh, 3),
            "resets_wh": round(self.resets_wh, 3),
            "outside_wh": round(self.outside_wh, 3),
            "remainder_wh": round(self.remainder_wh, 3),
            "closes": self.closes,
        }


def range_books(
    store: Store, buckets: Sequence[Range], charger: str | None = None
) -> list[list[Books]]:
    """Per bucket, the books of every charger whose meter was ever read (a month where it did
    not move while sessions counted energy does not close either), by charger name."""
    found: list[list[Books]] = []
    metered = {str(r[0]) for r in store.query("SELECT DISTINCT charger FROM meter_ledger")}
    for bucket in buckets:
        filt = SessionFilter(bucket[0], bucket[1], charger)
        where, params = filter_sql(filt, "anchor_at")
        ledger = {
            str(r[0]): [float(v) for v in r[1:]]
            for r in store.query(
                f"SELECT charger, {_LEDGER_SUMS} FROM meter_ledger WHERE {where} GROUP BY charger",
                params,
            )
        }
        where, params = filter_sql(filt)
        sessions = {
            str(name): float(wh)
            for name, wh in store.query(
                f"SELECT charger, COALESCE(SUM(energy_wh), 0) FROM plugin_session WHERE {where} "
                "GROUP BY charger",
                params,
            )
        }
        names = sorted((ledger.keys() | sessions.keys()) & metered)
        books = []
        for name in names:
            rise, gaps, rollbacks, resets, outside = ledger.get(name, [0.0] * 5)
            books.append(
                Books(name, rise, sessions.get(name, 0.0), gaps, rollbacks, resets, outside)
            )
        found.append(books)
    store.rollback()
    return found
