"""Security (issue 4): headers and no inline script, 400s that explain instead of 500s, stored
strings escaped, and the optional password (login form for people, 401 or HTTP Basic for
scripts, HttpOnly SameSite=Lax cookie)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from tests.web_site import EVIL, web_config
from webapp import create_app

PAGES = ["/", "/health", "/api/sessions", "/sessions.csv", "/api/totals", "/api/totals/daily"]
PASSWORD = "correct horse"
CHEAP = "pbkdf2:sha256:1000"  # a fast hash: the tests log in many times


@pytest.mark.parametrize("path", [*PAGES, "/sessions/1", "/login"])
def test_headers(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_no_inline_script(client: FlaskClient) -> None:
    detail = client.get("/api/sessions").json[-1]["id"]
    for path in ["/", "/health", f"/sessions/{detail}", "/?charger=nope"]:
        for tag in re.findall(r"<script\b[^>]*>", client.get(path).text):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/?from=2026-13-01", "from: '2026-13-01' is not a date"),
        ("/?to=yesterday", "to: 'yesterday' is not a date"),
        ("/?from=2026-02-01&to=2026-01-01", "is after to"),
        ("/?from=0001-01-01", "is outside"),
        ("/?to=9999-12-31", "is outside"),
        ("/?month=2026-1", "is not a month"),
        ("/?month=2026-02&from=2026-02-03", "cannot be combined"),
        ("/?page=0", "page: '0' is not a whole number"),
        ("/?page=abc", "page:"),
        ("/?page=99999999999999999999", "page:"),
        ("/?page=%C2%B2", "page:"),  # a superscript two: a digit to str.isdigit, not to int()
        ("/?charger=" + "x" * 300, "charger: longer than"),
        ("/api/sessions?from=2026-02-30", "from:"),
        ("/api/totals/daily?days=0", "days:"),
        ("/api/totals/daily?days=401", "days:"),
        ("/api/totals/monthly?months=x", "months:"),
        ("/api/totals?month=2026-13", "month:"),
        ("/sessions.csv?month=13-2026", "month:"),
    ],
)
def test_bad_parameters_are_400s(client: FlaskClient, path: str, message: str) -> None:
    response = client.get(path)
    assert response.status_code == 400
    if path.startswith("/api/"):
        assert message in response.json["error"]
    elif path.startswith("/sessions.csv"):
        assert response.mimetype == "text/plain" and message in response.text
    else:
        assert message in response.text.replace("&#39;", "'")


@pytest.mark.parametrize("path", ["/", "/health", "/?charger=" + EVIL])
def test_stored_strings_are_escaped(client: FlaskClient, path: str) -> None:
    page = client.get(path).text
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_no_password_no_login(client: FlaskClient) -> None:
    assert client.get("/login").status_code == 302
    for path in PAGES:
        assert client.get(path).status_code == 200
    assert "Log out" not in client.get("/").text


@pytest.fixture
def locked(site_url: str) -> Flask:
    hashed = generate_password_hash(PASSWORD, method=CHEAP)
    return create_app(web_config(site_url, password_hash=hashed, secret_key="k"), {"TESTING": True})


def login(client: FlaskClient, password: str = PASSWORD, target: str = "/") -> str:
    response = client.post("/login", data={"password": password, "next": target})
    return response.headers.get("Location", "") if response.status_code == 302 else response.text


@pytest.mark.parametrize("path", PAGES)
def test_password_protects_everything(locked: Flask, path: str) -> None:
    response = locked.test_client().get(path)
    if path in ("/", "/health"):
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login?next=")
    else:
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_json_clients_get_401(locked: Flask) -> None:
    response = locked.test_client().get("/health", headers={"Accept": "application/json"})
    assert response.status_code == 401 and "password" in response.json["error"]


def test_login_and_logout(locked: Flask) -> None:
    client = locked.test_client()
    with client.get("/static/style.css") as style:  # the login page needs its style
        assert style.status_code == 200
    assert "Wrong password." in login(client, "nope")
    assert login(client, target="/health") == "/health"
    cookie = client.get_cookie("chargelog_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    for path in PAGES:
        assert client.get(path).status_code == 200
    assert "Log out" in client.get("/").text
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "javascript:x", "/\\evil.example", "/\n", "/\r"],
)
def test_no_open_redirect(locked: Flask, target: str) -> None:
    assert login(locked.test_client(), target=target) == "/"


@pytest.mark.parametrize(
    "query", ["next=/%0a", "next=/%0d%0aSet-Cookie:x=1", "next=/%00", "next=/%7f"]
)
def test_a_control_character_in_next_is_not_a_500(
    locked: Flask, client: FlaskClient, query: str
) -> None:
    """No header may carry a newline: such a `next` falls back to the sessions page."""
    open_site = client.get(f"/login?{query}")
    assert open_site.status_code == 302 and open_site.headers["Location"] == "/"
    form = locked.test_client().get(f"/login?{query}")
    assert form.status_code == 200 and 'name="next" value="/"' in form.text


def test_scripts_use_basic_auth(locked: Flask) -> None:
    client = locked.test_client()
    good = client.get("/sessions.csv", auth=("any", PASSWORD))
    assert good.status_code == 200 and good.text.startswith("id,charger")
    assert client.get("/api/sessions", auth=("any", "wrong")).status_code == 401


def test_new_password_logs_everybody_out(locked: Flask, site_url: str) -> None:
    client = locked.test_client()
    login(client)
    cookie = client.get_cookie("chargelog_session")
    assert cookie is not None
    other = generate_password_hash("another one", method=CHEAP)
    changed = create_app(web_config(site_url, password_hash=other, secret_key="k")).test_client()
    changed.set_cookie("chargelog_session", cookie.value)
    assert changed.get("/").status_code == 302
