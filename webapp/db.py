"""One database connection per request, kept on `g` and closed in teardown (the flaskr shape).

The web app only reads: SQLite is opened read-only, and a MariaDB account with SELECT grants is
enough. A database that is down or not migrated is a 503 page that says so, not a traceback.

Every connection checks the schema first: a newer chargelog may have migrated the database under
a running server, whose queries would then misread tables it does not know. That answers 503 and
calls the app's `SCHEMA_REFUSED` hook, through which `chargelog serve` stops with one line and a
non-zero exit (a test app has no hook and only answers 503).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import ServiceUnavailable

from journal.config import Config
from journal.migrate import SchemaError, refuse_newer
from journal.storage import StorageError, Store, open_store
from webapp.security import http_error

log = logging.getLogger(__name__)
READ_TIMEOUT = 30  # seconds: a page waits no longer for MariaDB


def get_db() -> Store:
    """The request's store, opened on first use."""
    if "db" not in g:
        cfg: Config = current_app.config["CHARGELOG"]
        opened = open_store(cfg.database.url, read_only=True, read_timeout=READ_TIMEOUT)
        try:
            refuse_newer(opened)
        except BaseException:
            opened.close()
            raise
        g.db = opened
    store: Store = g.db
    return store


def close_db(_exc: BaseException | None = None) -> None:
    """Teardown: every request gives its connection back, error or not."""
    store = g.pop("db", None)
    if store is not None:
        store.close()


def storage_failed(exc: StorageError) -> Response:
    """A database that is down or not migrated answers 503 with what to check."""
    log.error("database error on %s: %s", request.path, exc)
    return http_error(
        ServiceUnavailable(
            "The database cannot be read right now. Is it running, and has `chargelog migrate` "
            "created the tables?"
        )
    )


def schema_refused(exc: SchemaError) -> Response:
    """A schema this code does not know: 503 now, and the server is told to stop."""
    hook = current_app.config.get("SCHEMA_REFUSED")
    if hook is not None:
        hook(exc)
    else:
        log.error("%s", exc)
    return http_error(ServiceUnavailable(f"This chargelog cannot read the database: {exc}."))


def init_app(app: Flask) -> None:
    """Wires the teardown and the database error pages into the app."""
    app.teardown_appcontext(close_db)
    app.register_error_handler(StorageError, storage_failed)
    app.register_error_handler(SchemaError, schema_refused)
