"""The web app: the sessions with their totals, a session's detail, the health of the logging.

create_app() is the only thing here (the flaskr shape): configuration comes in as an argument,
never from globals read at import time, so tests and `chargelog serve` build the app they need.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from journal.config import Config, site_zone
from webapp.throttle import Throttle

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Config | None = None, test_config: dict[str, Any] | None = None) -> Flask:
    """The Flask app for a configuration; `test_config` overrides Flask settings in tests."""
    # Imported here, not above: every `chargelog` command imports this package for its
    # sub-commands (serve, passwd, demo), and only those that serve should pay for Flask.
    from flask import Flask

    from webapp import (
        auth,
        balance,
        db,
        detail,
        exports,
        formatting,
        health,
        security,
        sessions,
        statements,
    )

    cfg = config or Config()
    app = Flask(__name__)
    app.config.from_mapping(
        CHARGELOG=cfg,
        SITE_ZONE=site_zone(cfg.site.timezone),
        PAGE_SIZE=50,
        # Without a configured key, a random one: logins then last until the next restart.
        SECRET_KEY=cfg.web.secret_key or secrets.token_hex(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="chargelog_session",
        SESSION_COOKIE_SECURE=cfg.web.secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=cfg.web.session_hours),
        LOGIN_THROTTLE=Throttle(),
    )
    if test_config:
        app.config.update(test_config)
    db.init_app(app)
    security.init_app(app)
    formatting.init_app(app)
    for blueprint in (
        auth.bp,
        sessions.bp,
        detail.bp,
        health.bp,
        exports.bp,
        balance.bp,
        statements.bp,
    ):
        app.register_blueprint(blueprint)
    return app
