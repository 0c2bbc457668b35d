"""Bringing what the original logger's database held into chargelog's, in one transaction:
its `tarif` rows as tariffs, its `versement` rows as payments, its `energySession` rows into
`legacy_session`, and those sessions materialized into the live projection tables.

Idempotent by import keys: a session is 'energySession:<id>:<tstamp>', a tariff
'tarif:<id>:<dateA>', a payment 'versement:<id>:<dateV>'. They name the original rows, not the
URL they were read through, so importing the same database again (even as another host name)
adds nothing; a tariff or payment removed after its import is not brought back. The caller holds
the projector lock, so no rebuild swaps the tables while the import writes into them.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal

from journal.entries import stored_text
from journal.storage import Store, in_chunks, placeholders
from projector.legacy.projection import CHUNK, read_stored, write_legacy
from projector.legacy.source import LegacyData, LegacyTarif, LegacyVersement
from projector.money.pricing import Pricer
from projector.money.store import Payment, insert_payment, insert_tariff, list_tariffs
from projector.money.tariffs import Tariff
from projector.tables import ORIGINAL_COLUMNS, TableSet

PRICE_PLACES = Decimal("0.0001")  # tariff.price_per_kwh: DECIMAL(10,4)
AMOUNT_PLACES = Decimal("0.01")  # payment.amount: DECIMAL(12,2)


@dataclass
class Counts:
    """What happened to the rows of one original table."""

    added: int = 0
    already: int = 0
    skipped: list[str] = field(default_factory=list)  # "energySession #5: no tstamp"

    def summary(self, name: str) -> str:
        text = f"{name}: {self.added} added, {self.already} already there"
        return text + (f", {len(self.skipped)} skipped" if self.skipped else "")


@dataclass
class ImportReport:
    sessions: Counts = field(default_factory=Counts)
    tariffs: Counts = field(default_factory=Counts)
    payments: Counts = field(default_factory=Counts)

    def summary(self) -> str:
        return "; ".join(
            (
                self.sessions.summary("sessions"),
                self.tariffs.summary("tariffs"),
                self.payments.summary("payments"),
            )
        )

    def skipped(self) -> list[str]:
        return [*self.sessions.skipped, *self.tariffs.skipped, *self.payments.skipped]


@dataclass(frozen=True)
class ImportOptions:
    source: str  # the redacted URL, stored with what it brought
    charger: str  # the original's base topic: every legacy session is this charger's
    currency: str
    zone: tzinfo  # [site] timezone: dateA and dateV become local dates in it
    config_tariff: Tariff | None = None  # [tariff] of the configuration, as the projector has it


def local_day(unix_seconds: int, zone: tzinfo) -> date:
    return datetime.fromtimestamp(unix_seconds, UTC).astimezone(zone).date()


def _now() -> str:
    return stored_text(datetime.now(UTC))


def import_legacy(store: Store, data: LegacyData, options: ImportOptions) -> ImportReport:
    """Write everything new in one transaction (all or nothing) and report what it did."""
    known_tariffs = list_tariffs(store)  # before the transaction: it ends its read snapshot
    report = ImportReport()
    with store.transaction():
        imported = {
            str(key): int(target)
            for key, target in store.query("SELECT import_key, target_id FROM legacy_import")
        }
        tariff_of, new_tariffs = _import_tarifs(store, data.tarifs, imported, options, report)
        _import_versements(store, data.versements, imported, options, report)
        _import_sessions(store, data, tariff_of, options, report)
        if report.sessions.added or report.tariffs.added:
            tariffs = [*known_tariffs, *new_tariffs]
            if options.config_tariff is not None:
                tariffs.append(options.config_tariff)
            write_legacy(store, TableSet(), read_stored(store), Pricer(tariffs, options.zone))
    return report


def _import_tarifs(
    store: Store,
    tarifs: Iterable[LegacyTarif],
    imported: dict[str, int],
    options: ImportOptions,
    report: ImportReport,
) -> tuple[dict[int, int], list[Tariff]]:
    """Returns {original tarif id: chargelog tariff id} and the tariffs added (as values, for
    pricing inside this transaction)."""
    tariff_of: dict[int, int] = {}
    added: list[Tariff] = []
    for tarif in tarifs:
        if tarif.date_a is None or tarif.value is None:
            report.tariffs.skipped.append(f"tarif #{tarif.id}: no dateA or no value")
            continue
        key = f"tarif:{tarif.id}:{tarif.date_a}"
        if not _is_new(key, imported, report.tariffs):
            tariff_of[tarif.id] = imported[key]
            continue
        tariff = Tariff(
            0,
            local_day(tarif.date_a, options.zone),
            tarif.value.quantize(PRICE_PLACES),
            options.currency,
            None,
            (),
            f"legacy tarif #{tarif.id}",
        )
        new_id = insert_tariff(store, tariff)
        _remember(store, key, "tarif", tarif.id, new_id, options.source)
        tariff_of[tarif.id] = new_id
        added.append(replace(tariff, id=new_id))
        report.tariffs.added += 1
    return tariff_of, added


def _import_versements(
    store: Store,
    versements: Iterable[LegacyVersement],
    imported: dict[str, int],
    options: ImportOptions,
    report: ImportReport,
) -> None:
    for payment in versements:
        if payment.date_v is None or payment.value is None:
            report.payments.skipped.append(f"versement #{payment.id}: no dateV or no value")
            continue
        key = f"versement:{payment.id}:{payment.date_v}"
        if not _is_new(key, imported, report.payments):
            continue
        date_e = local_day(payment.date_e, options.zone).isoformat() if payment.date_e else "none"
        carid = "none" if payment.carid is None else payment.carid
        note = f"legacy versement #{payment.id} (dateE {date_e}, carid {carid})"
        new_id = insert_payment(
            store,
            Payment(
                0,
                local_day(payment.date_v, options.zone),
                payment.value.quantize(AMOUNT_PLACES),
                options.currency,
                note,
            ),
        )
        _remember(store, key, "versement", payment.id, new_id, options.source)
        report.payments.added += 1


def _is_new(key: str, imported: Container[str], counts: Counts) -> bool:
    """Whether no earlier import brought the row of this key (else it counts as already there):
    import keys name the original rows, so importing the same database again adds nothing."""
    if key in imported:
        counts.already += 1
        return False
    return True


def _remember(store: Store, key: str, kind: str, legacy_id: int, target: int, source: str) -> None:
    store.execute(
        "INSERT INTO legacy_import (import_key, kind, legacy_id, target_id, source, imported_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (key, kind, legacy_id, target, source, _now()),
    )


SESSION_COLUMNS = (
    "id",
    "legacy_id",
    *ORIGINAL_COLUMNS,
    "tariff_id",
    "charger",
    "source",
    "import_key",
    "imported_at",
)


def _import_sessions(
    store: Store,
    data: LegacyData,
    tariff_of: dict[int, int],
    options: ImportOptions,
    report: ImportReport,
) -> None:
    """Each new row keeps the original id as its own (so its projection id reads as
    LEGACY_ID_BASE + original id) unless an earlier import from another database took it:
    then the next free number. Stored, so a rebuild finds the same ids."""
    have = {str(key) for (key,) in store.query("SELECT import_key FROM legacy_session")}
    used = {int(sid) for (sid,) in store.query("SELECT id FROM legacy_session")}
    next_free = max([*used, *(s.id for s in data.sessions), 0]) + 1
    rows = []
    now = _now()
    for session in data.sessions:
        if session.tstamp is None:
            report.sessions.skipped.append(f"energySession #{session.id}: no tstamp")
            continue
        key = f"energySession:{session.id}:{session.tstamp}"
        if not _is_new(key, have, report.sessions):
            continue
        have.add(key)
        number = session.id
        if number in used:
            number, next_free = next_free, next_free + 1
        used.add(number)
        tariff_id = tariff_of.get(session.tarifid) if session.tarifid else None
        rows.append(
            (
                number,
                session.id,
                session.tstamp,
                session.value,
                session.sdur,
                session.carid,
                session.status,
                session.tarifid,
                tariff_id,
                options.charger,
                options.source,
                key,
                now,
            )
        )
    sql = (
        f"INSERT INTO legacy_session ({', '.join(SESSION_COLUMNS)}) "
        f"VALUES ({placeholders(SESSION_COLUMNS)})"
    )
    for chunk in in_chunks(rows, CHUNK):
        store.executemany(sql, chunk)
    report.sessions.added = len(rows)
