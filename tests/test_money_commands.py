"""`chargelog tariff` and `chargelog payment` (issue 5), run as a user would, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from journal.migrate import migrate
from journal.storage import open_store
from projector.money.parsing import parse_band
from projector.money.store import Payment, list_payments, list_tariffs
from tests.services import mysql_database
from tests.test_sessions_command import chargelog


def ok(db_url: str, tmp_path: Path, *args: str) -> str:
    result = chargelog(db_url, tmp_path, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_tariffs_add_list_remove(db_url: str, tmp_path: Path) -> None:
    out = ok(db_url, tmp_path, "tariff", "add", "--from", "2026-01-01", "--price", "0.185",
             "--band", "mon-fri 22:00-07:00 0.0920", "--band", "sat,sun 08:00-20:00 0.1",
             "--note", "heures creuses")  # fmt: skip
    assert out == "added tariff 1: 0.185 EUR/kWh from 2026-01-01\n"
    ok(db_url, tmp_path, "tariff", "add", "--from", "2026-03-01", "--price", "0.2",
       "--charger", "openevse", "--currency", "chf")  # fmt: skip

    listing = ok(db_url, tmp_path, "tariff", "list").splitlines()
    assert listing[0].split() == ["id", "from", "base", "price", "charger", "note"]
    assert listing[1].split() == ["1", "2026-01-01", "0.1850", "EUR/kWh", "(all)", "heures",
                                  "creuses"]  # fmt: skip
    assert listing[2].strip() == "band mon-fri 22:00-07:00 0.0920 EUR/kWh"
    assert listing[3].strip() == "band sat,sun 08:00-20:00 0.1000 EUR/kWh"
    assert listing[4].split() == ["2", "2026-03-01", "0.2000", "CHF/kWh", "openevse"]

    with open_store(db_url) as store:
        first, second = list_tariffs(store)
    assert (first.price, first.valid_from, first.charger) == (Decimal("0.1850"), date(2026, 1, 1),
                                                              None)  # fmt: skip
    assert first.bands == (parse_band("mon-fri 22:00-07:00 0.0920"),
                           parse_band("sat,sun 08:00-20:00 0.1"))  # fmt: skip
    assert (second.currency, second.charger, second.bands) == ("CHF", "openevse", ())

    assert ok(db_url, tmp_path, "tariff", "remove", "1") == "removed tariff 1\n"
    listing = ok(db_url, tmp_path, "tariff", "list").splitlines()
    assert [line.split()[0] for line in listing[1:]] == ["2"]
    ok(db_url, tmp_path, "tariff", "remove", "2")
    assert "no tariffs" in ok(db_url, tmp_path, "tariff", "list")
    # a removed tariff's id is never reused (history may still name it)
    out = ok(db_url, tmp_path, "tariff", "add", "--from", "2026-01-01", "--price", "0.1")
    assert out.startswith("added tariff 3:")


def test_payments_add_list_remove(db_url: str, tmp_path: Path) -> None:
    assert "no payments" in ok(db_url, tmp_path, "payment", "list")
    ok(db_url, tmp_path, "payment", "add", "2026-02-01", "42.5", "--note", "January")
    ok(db_url, tmp_path, "payment", "add", "2026-01-15", "-2.05", "--note", "refund")
    ok(db_url, tmp_path, "payment", "add", "2026-03-01", "10", "--currency", "CHF")
    listing = ok(db_url, tmp_path, "payment", "list").splitlines()
    assert [line.split() for line in listing] == [
        ["id", "paid", "on", "amount", "note"],
        ["2", "2026-01-15", "-2.05", "EUR", "refund"],
        ["1", "2026-02-01", "42.50", "EUR", "January"],
        ["3", "2026-03-01", "10.00", "CHF"],
        ["total", "10.00", "CHF"],
        ["total", "40.45", "EUR"],
    ]
    with open_store(db_url) as store:
        assert list_payments(store)[1] == Payment(1, date(2026, 2, 1), Decimal("42.50"), "EUR",
                                                  "January")  # fmt: skip
    ok(db_url, tmp_path, "payment", "remove", "2")
    assert "refund" not in ok(db_url, tmp_path, "payment", "list")


BAD_INPUTS = [
    (["tariff", "add", "--from", "2026-02-30", "--price", "0.1"], "'2026-02-30' is not a date"),
    (["tariff", "add", "--from", "2026-01-01", "--price", "0,18"], "price '0,18' is not a number"),
    (["tariff", "add", "--from", "2026-01-01", "--price", "0.12345"], "more than 4 decimals"),
    (["tariff", "add", "--from", "2026-01-01", "--price", "0.1", "--currency", "euro"],
     "currency 'euro' is not a 3-letter code"),
    (["tariff", "add", "--from", "2026-01-01", "--price", "0.1", "--band", "mon-fry 1:00-2:00 0"],
     "'fry' is not a day"),
    (["tariff", "add", "--from", "2026-01-01", "--price", "0.1", "--band", "mon 22:00-07:00"],
     "expected 'DAYS HH:MM-HH:MM PRICE'"),
    (["tariff", "add", "--from", "2026-01-01", "--price", "0.1", "--band", "mon-fri 22:00-07:00 0",
      "--band", "sat 06:00-08:00 0"], "overlap"),
    (["tariff", "remove", "7"], "there is no tariff 7"),
    (["tariff", "remove", "x"], "'x' is not an id"),
    (["payment", "add", "2026-13-01", "1"], "'2026-13-01' is not a date"),
    (["payment", "add", "2026-01-01", "1.234"], "amount '1.234' has more than 2 decimals"),
    (["payment", "add", "2026-01-01", "0"], "amount is 0"),
    (["payment", "remove", "3"], "there is no payment 3"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), BAD_INPUTS)
def test_bad_input_one_line_exit_2(
    args: list[str], message: str, tmp_path: Path, backend_url: str
) -> None:
    result = chargelog(backend_url, tmp_path, *args)
    assert result.returncode == 2
    # the input is checked before the database is opened: nothing else is logged
    errors = [line for line in result.stderr.splitlines() if " INFO " not in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"chargelog {args[0]} {args[1]}: ")
    assert message in errors[0]


@pytest.fixture(scope="module", params=["sqlite", "mysql"])
def backend_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One migrated database per backend for the whole table: bad input writes nothing."""
    database: Any = nullcontext(f"sqlite:///{tmp_path_factory.mktemp('money') / 'c.db'}")
    if request.param == "mysql":
        database = mysql_database()
    with database as url:
        with open_store(url) as store:
            migrate(store)
        yield url


def test_migrate_twice_is_a_no_op(db_url: str, tmp_path: Path) -> None:
    first = ok(db_url, tmp_path, "migrate")
    assert "applied 0004_money" in first
    ok(db_url, tmp_path, "payment", "add", "2026-02-01", "1")
    second = ok(db_url, tmp_path, "migrate")
    assert second.endswith("(nothing to do)\n") and "applied" not in second
    assert "1.00 EUR" in ok(db_url, tmp_path, "payment", "list")
