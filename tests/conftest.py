"""Fixtures that build on each other: a database URL per backend -> a migrated store; a private
broker; a unique topic prefix; a projected site per backend -> the web app -> its test client.
Every service test talks to the real thing and cleans up."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from journal.migrate import migrate
from journal.storage import Store, open_store
from tests import web_site
from tests.services import PrivateBroker, mysql_database
from tests.web_site import web_config
from webapp import create_app

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


# ---- the web app (tests/test_web_*.py) --------------------------------------------------------


@pytest.fixture(scope="session", params=BACKENDS)
def site_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """tests/web_site.py journaled and projected once per backend: the web app only reads it."""
    if request.param == "sqlite":
        database: Any = nullcontext(f"sqlite:///{tmp_path_factory.mktemp('site') / 'site.db'}")
    else:
        database = mysql_database()
    with database as url:
        with open_store(url) as opened:
            migrate(opened)
            web_site.build(opened, datetime.now(UTC))
        yield url


@pytest.fixture
def app(site_url: str) -> Flask:
    return create_app(web_config(site_url), {"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def fresh_app(store: Store, db_url: str) -> Flask:
    """A new install: the tables exist, nothing is recorded yet."""
    return create_app(web_config(db_url), {"TESTING": True})
