"""The optional password: when `[web] password_hash` is set, every page and API needs it.

People log in once through /login (a signed, HttpOnly, SameSite=Lax session cookie); scripts
fetching the CSV or the API may send it as HTTP Basic auth (any user name) and get a 401, not a
login page, without it. The cookie carries a fingerprint of the hash, so setting a new password
logs everybody out.
"""

from __future__ import annotations

import hashlib
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
from werkzeug.exceptions import Unauthorized
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response  # what redirect() returns (flask's Response derives from it)

from journal.config import Config
from webapp.security import machine_client

bp = Blueprint("auth", __name__)
OPEN_ENDPOINTS = {"auth.login", "static"}


def password_hash() -> str:
    """The configured hash; empty means the site is open."""
    cfg: Config = current_app.config["CHARGELOG"]
    return cfg.web.password_hash


def _fingerprint(hashed: str) -> str:
    return hashlib.sha256(hashed.encode()).hexdigest()[:16]


def logged_in() -> bool:
    """True without a password, or with a session cookie for the current one."""
    hashed = password_hash()
    return not hashed or session.get("auth") == _fingerprint(hashed)


def _basic_auth_ok(hashed: str) -> bool:
    auth = request.authorization
    return bool(auth and auth.type == "basic" and check_password_hash(hashed, auth.password or ""))


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
        if check_password_hash(hashed, request.form.get("password", "")):
            session.clear()
            session["auth"] = _fingerprint(hashed)
            return redirect(target)
        error = "Wrong password."
    return render_template("login.html", error=error, next=target)


@bp.route("/logout", methods=("POST",))
def logout() -> Response:
    """A POST (a link could be followed by a prefetcher) that ends the session."""
    session.clear()
    return redirect(url_for("auth.login") if password_hash() else url_for("sessions.index"))
