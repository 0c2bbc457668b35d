"""Fixtures that build on each other: a database URL per backend -> a migrated store; a private
broker; a unique topic prefix. Every service test talks to the real thing and cleans up."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from journal.migrate import migrate
from journal.storage import Store, open_store
from tests.services import PrivateBroker, mysql_database

BACKENDS = ["sqlite", "mysql"]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on the embedded SQLite file and on a fresh MariaDB database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'chargelog.db'}"
    else:
        with mysql_database() as url:
            yield url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    with open_store(db_url) as opened:
        migrate(opened)
        yield opened


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    private = PrivateBroker(tmp_path / "broker")
    private.start()
    yield private
    private.stop()


@pytest.fixture
def topic_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"
