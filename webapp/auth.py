"""The optional password: when `[web] password_hash` is set, every page and API needs it.

People log in once through /login (a signed, HttpOnly, SameSite=Lax session cookie); scripts
fetching the CSV or the API may send it as HTTP Basic auth (any user name) and get a 401, not a
login page, without it. The cookie carries a fingerprint of the hash, so setting a new password
logs everybody out, and the time of the login: the server refuses it after `[web] session_hours`
(a cookie copied before then stops working too). Wrong passwords are logged and slowed per client
(webapp/throttle.py): after five, a client waits a doubling delay and gets a 429 meanwhile.
"""

from __future__ import annotations

import hashlib
import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import TooManyRequests, Unauthorized
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response  # what redirect() returns (flask's Response derives from it)

from journal.config import Config
from webapp.security import machine_client
from webapp.throttle import Throttle

bp = Blueprint("auth", __name__)
OPEN_ENDPOINTS = {"auth.login", "static"}


def password_hash() -> str:
    """The configured hash; empty means the site is open."""
    cfg: Config = current_app.config["CHARGELOG"]
    return cfg.web.password_hash


def _fingerprint(hashed: str) -> str:
    return hashlib.sha256(hashed.encode()).hexdigest()[:16]


def logged_in() -> bool:
    """True without a password, or with a session cookie for the current one that is not
    older than `[web] session_hours`."""
    hashed = password_hash()
    if not hashed:
        return True
    if session.get("auth") != _fingerprint(hashed):
        return False
    since = session.get("since")
    cfg: Config = current_app.config["CHARGELOG"]
    return (
        isinstance(since, int | float) and 0 <= time.time() - since <= cfg.web.session_hours * 3600
    )


def _client() -> str:
    return request.remote_addr or "unknown"


def _checked_password(hashed: str, password: str, how: str) -> bool:
    """The password checked, unless this client must wait (429); a wrong one counts."""
    throttle: Throttle = current_app.config["LOGIN_THROTTLE"]
    client = _client()
    wait = throttle.wait_s(client)
    if wait > 0:
        retry = int(wait) + 1
        raise TooManyRequests(
            f"Too many wrong passwords from this address: try again in {retry} s.",
            retry_after=retry,
        )
    if check_password_hash(hashed, password):
        throttle.succeeded(client)
        return True
    throttle.failed(client, how)
    return False


def _basic_auth_ok(hashed: str) -> bool:
    auth = request.authorization
    if not (auth and auth.type == "basic"):
        return False
    return _checked_password(hashed, auth.password or "", "HTTP Basic auth")


@bp.before_app_request
def require_login() -> Response | None:
    """Runs before every request: lets it through, or sends it to log in."""
    if logged_in() or request.endpoint in OPEN_ENDPOINTS:
        return None
    if machine_client():
        if _basic_auth_ok(password_hash()):
            return None
        raise Unauthorized(
            "This chargelog needs its password: log in, or send it as HTTP Basic auth.",
            www_authenticate=WWWAuthenticate("basic", {"realm": "chargelog"}),
        )
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host (browsers read `/\\host`
    as `//host`), and never a control character, which no Location header may carry."""
    if not target or any(ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in target):
        return url_for("sessions.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("sessions.index")
    return target


@bp.app_context_processor
def auth_context() -> dict[str, bool]:
    """Lets every template show the log-out button when it applies."""
    return {"password_set": bool(password_hash()), "logged_in": logged_in()}


@bp.route("/login", methods=("GET", "POST"))
def login() -> Response | str:
    """The login form; on success, back to the page that asked for it."""
    hashed = password_hash()
    target = _safe_next(request.values.get("next"))
    if not hashed or logged_in():
        return redirect(target)
    error = None
    if request.method == "POST":
        if _checked_password(hashed, request.form.get("password", ""), "login form"):
            session.clear()
            session.permanent = True  # the cookie expires with the login, not at browser close
            session["auth"] = _fingerprint(hashed)
            session["since"] = int(time.time())
            return redirect(target)
        error = "Wrong password."
    return render_template("login.html", error=error, next=target)


@bp.route("/logout", methods=("POST",))
def logout() -> Response:
    """A POST (a link could be followed by a prefetcher) that ends the session."""
    session.clear()
    return redirect(url_for("auth.login") if password_hash() else url_for("sessions.index"))
