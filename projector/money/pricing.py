"""Pricing inside the fold: each energy increment a cycle receives is priced as it is counted,
with the tariffs in force when it was delivered (projector.money.tariffs.split_cost), so a session
that
crosses a band edge or a tariff change is split exactly.

The tariffs and the site's zone are part of what the projection is a function of: their
fingerprint is kept in the checkpoint, and when it changes (a tariff added, corrected or removed)
the projection is rebuilt, which re-prices all history exactly as a fresh rebuild would.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, tzinfo

from journal.config import TariffConfig
from journal.storage import Store
from projector.money.tariffs import CONFIG_TARIFF, EXACT, Tariff, split_cost

US = 1_000_000
# cycle.costs: "tariff id|band|price|currency" -> [Wh, exact cost as text]
CostParts = dict[str, list]


def config_tariff(section: TariffConfig) -> Tariff | None:
    """The `[tariff]` section as a tariff for all chargers (id CONFIG_TARIFF), or None when it
    names no price. Without a valid_from it covers all history; a database tariff dated the same
    day or later takes over (tariff_for prefers the higher id on a tie)."""
    if section.price is None:
        return None
    return Tariff(
        id=CONFIG_TARIFF,
        valid_from=section.valid_from or date.min,
        price=section.price,
        currency=section.currency,
        note="[tariff] in the configuration",
    )


class Pricer:
    def __init__(self, tariffs: list[Tariff], zone: tzinfo) -> None:
        self.tariffs = tariffs
        self.zone = zone
        zone_name = getattr(zone, "key", str(zone))
        described = repr((zone_name, sorted(tariffs, key=lambda t: t.id)))
        self.fingerprint = hashlib.sha256(described.encode()).hexdigest()[:16]

    @classmethod
    def load(cls, store: Store, zone: tzinfo, config_tariff: Tariff | None = None) -> Pricer:
        """The database's tariffs, plus the configuration's single price when it has one."""
        from projector.money.store import list_tariffs

        tariffs = list_tariffs(store)
        store.rollback()
        return cls([*tariffs, config_tariff] if config_tariff is not None else tariffs, zone)

    def add(self, costs: CostParts, charger: str, start_us: int, end_us: int, wh: float) -> None:
        """Price `wh` delivered between two moments and add it to a cycle's parts."""
        if not self.tariffs or wh <= 0:
            return
        start = datetime.fromtimestamp(start_us / US, UTC)
        end = datetime.fromtimestamp(max(end_us, start_us) / US, UTC)
        for part in split_cost(self.tariffs, charger, [(start, end, wh)], self.zone):
            band = part.band.label() if part.band is not None else ""
            key = f"{part.tariff_id}|{band}|{part.price}|{part.currency}"
            entry = costs.setdefault(key, [0.0, "0"])
            entry[0] += part.wh
            entry[1] = str(EXACT.add(EXACT.create_decimal(entry[1]), part.cost))
