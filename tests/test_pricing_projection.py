"""Costs in the projection: every energy increment priced with the tariff and band in force when
it was delivered; adding a tariff re-prices history exactly as a rebuild does."""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from journal.storage import Store
from projector.money.parsing import parse_band
from projector.money.store import add_tariff
from projector.money.tariffs import CONFIG_TARIFF, Tariff
from projector.rebuild import rebuild
from projector.runner import VersionMismatch, project_pass
from projector.tables import TABLES
from tests.charge_script import Script
from tests.test_projection_store import journal, snapshot
from tests.test_sessions_command import chargelog

PARIS = ZoneInfo("Europe/Paris")


def evening_charge() -> Script:
    """21:00 to 01:00 in Paris (UTC+1 in January) at 7.2 kW: 7.2 kWh before 22:00, 21.6 after."""
    s = Script(firmware="5.x", t=1_767_297_600.0 - 60)  # 2026-01-01 19:59 UTC
    s.plug().wait(55).state(3)  # plug at 19:59:00, +5 s, +55 s: state 3 at 20:00:00 UTC
    s.t -= 1  # make the charge start exactly at the state change
    s.charge(240).state(2).unplug()
    return s


def costs(store: Store) -> tuple[Decimal, list[tuple]]:
    rows = store.query("SELECT tariff_id, band, price, wh, cost FROM cycle_cost ORDER BY band")
    tarifids = store.query("SELECT tarifid FROM energySession")
    store.rollback()
    total = sum((Decimal(str(r[4])) for r in rows), Decimal(0))
    return total, [(*tuple(r[:3]), round(float(r[3]), 3)) for r in rows] + [("tarifid", *tarifids)]


def test_a_session_across_a_night_band(store: Store) -> None:
    night = parse_band("all 22:00-07:00 0.10")
    tariff_id = add_tariff(store, Tariff(0, date(2025, 1, 1), Decimal("0.20"), bands=(night,)))
    store.commit()
    journal(store, evening_charge().messages)
    project_pass(store, zone=PARIS)
    total, rows = costs(store)
    assert total.quantize(Decimal("0.000001")) == Decimal("3.600000")  # 7.2 x 0.20 + 21.6 x 0.10
    assert [(r[1], round(r[3], 1)) for r in rows[:2]] == [
        ("", 7200.0),
        ("all 22:00-07:00 0.1000", 21600.0),
    ]
    assert rows[2] == ("tarifid", (tariff_id,))


def test_adding_a_tariff_reprices_history_like_a_rebuild(store: Store) -> None:
    add_tariff(store, Tariff(0, date(2025, 1, 1), Decimal("0.20")))
    store.commit()
    journal(store, evening_charge().messages)
    project_pass(store, zone=PARIS)
    assert costs(store)[0].quantize(Decimal("0.01")) == Decimal("5.76")  # 28.8 kWh x 0.20
    newer = add_tariff(store, Tariff(0, date(2026, 1, 1), Decimal("0.30")))
    store.commit()
    with pytest.raises(VersionMismatch, match="tariffs"):
        project_pass(store, zone=PARIS)
    rebuild(store, zone=PARIS)
    repriced = snapshot(store)
    assert repriced["session_costs"], "session_cost holds the re-priced session"
    total, rows = costs(store)
    assert total.quantize(Decimal("0.01")) == Decimal("8.64")
    assert rows[-1] == ("tarifid", (newer,))
    # the same as replaying from scratch in small passes
    for table in TABLES:
        store.execute(f"DELETE FROM {table}")
    store.commit()
    while project_pass(store, zone=PARIS, max_entries=101).entries:
        pass
    assert snapshot(store) == repriced
    assert costs(store)[0] == total


def test_no_tariff_means_no_cost(store: Store) -> None:
    journal(store, evening_charge().messages)
    project_pass(store, zone=PARIS)
    total, rows = costs(store)
    assert total == 0 and rows == [("tarifid", (0,))]


def _project_with_config(db_url: str, tmp_path: Path, tariff: str) -> subprocess.CompletedProcess:
    return chargelog(db_url, tmp_path, "project", more_config=f"[tariff]\n{tariff}\n")


def test_the_config_tariff_prices_until_a_database_tariff_takes_over(
    db_url: str, store: Store, tmp_path: Path
) -> None:
    """[tariff] price alone prices everything; changing it re-prices history (the projector
    rebuilds by itself); a database tariff from its own date on wins over it."""
    journal(store, evening_charge().messages)
    result = _project_with_config(db_url, tmp_path, "price = 0.2500\ncurrency = chf")
    assert result.returncode == 0, result.stderr
    total, rows = costs(store)
    assert total == Decimal("7.2") and rows[-1] == ("tarifid", (CONFIG_TARIFF,))  # 28.8 x 0.25
    currencies = store.query("SELECT DISTINCT currency FROM cycle_cost")
    store.rollback()
    assert currencies == [("CHF",)]

    result = _project_with_config(db_url, tmp_path, "price = 0.1000\ncurrency = CHF")
    assert result.returncode == 0, result.stderr
    assert "rebuilding" in result.stderr
    assert costs(store)[0] == Decimal("2.88")

    # A database tariff from the day of the charge (local 2026-01-01) takes over.
    tariff_id = add_tariff(store, Tariff(0, date(2026, 1, 1), Decimal("0.3000"), "CHF"))
    store.commit()
    result = _project_with_config(db_url, tmp_path, "price = 0.1000\ncurrency = CHF")
    assert result.returncode == 0, result.stderr
    total, rows = costs(store)
    assert total == Decimal("8.64") and rows[-1] == ("tarifid", (tariff_id,))

    # ...but not before its date: from 2026-01-02 on, only the charge's last hour (after local
    # midnight, 7.2 kWh) takes the new price: 21.6 x 0.10 + 7.2 x 0.30.
    store.execute("UPDATE tariff SET valid_from = ? WHERE id = ?", ("2026-01-02", tariff_id))
    store.commit()
    result = _project_with_config(db_url, tmp_path, "price = 0.1000\ncurrency = CHF")
    assert result.returncode == 0, result.stderr
    assert costs(store)[0] == Decimal("4.32")


def test_a_bad_config_price_names_the_key(db_url: str, tmp_path: Path) -> None:
    result = _project_with_config(db_url, tmp_path, "price = 0.18505")
    assert result.returncode == 2
    assert "[tariff] price" in result.stderr and "more than 4 decimals" in result.stderr


def night_charge(local_midnight_utc: datetime, hours: float) -> Script:
    """Plugged just before a local midnight, charging 7.2 kW for `hours` real hours from it."""
    s = Script(firmware="5.x", t=local_midnight_utc.timestamp() - 60)
    s.plug().wait(55).state(3)
    s.t -= 1  # the charge starts exactly at local midnight
    s.charge(hours * 60).state(2).unplug()
    return s


@pytest.mark.parametrize(
    ("midnight", "hours", "in_band_kwh", "total"),
    [
        # 29 March 2026, 02:00 CET -> 03:00 CEST: local 01:00-04:00 lasts two real hours.
        (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), 4, "14.4", Decimal("4.32")),
        # 25 October 2026, 03:00 CEST -> 02:00 CET: local 01:00-04:00 lasts four real hours.
        (datetime(2026, 10, 24, 22, 0, tzinfo=UTC), 6, "28.8", Decimal("5.76")),
    ],
)
def test_dst_nights_price_real_hours(
    store: Store, midnight: datetime, hours: float, in_band_kwh: str, total: Decimal
) -> None:
    """A band is local wall-clock time: on a DST night it covers the real hours the clocks
    show it, not three fixed hours."""
    band = parse_band("all 01:00-04:00 0.10")
    add_tariff(store, Tariff(0, date(2026, 1, 1), Decimal("0.20"), bands=(band,)))
    store.commit()
    journal(store, night_charge(midnight, hours).messages)
    project_pass(store, zone=PARIS)
    cost, rows = costs(store)
    assert cost.quantize(Decimal("0.000001")) == total
    in_band = [r for r in rows if r[1] == "all 01:00-04:00 0.1000"]
    assert round(in_band[0][3] / 1000, 1) == float(in_band_kwh)
