"""A login fit for a page that writes (issue 13): wrong passwords slowed and logged per client,
logins that expire (`[web] session_hours`), the Secure flag on request (`[web] secure_cookies`)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.security import generate_password_hash

from journal.config import ConfigError, load_config
from tests.test_web_security import CHEAP, PASSWORD, login
from tests.web_site import web_config
from webapp import create_app
from webapp.throttle import FREE_TRIES, Throttle


def site(site_url: str, **web: object) -> Flask:
    hashed = generate_password_hash(PASSWORD, method=CHEAP)
    cfg = web_config(site_url, password_hash=hashed, secret_key="k", **web)
    return create_app(cfg, {"TESTING": True})


def test_forty_wrong_passwords_are_not_all_answered(
    site_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = site(site_url)
    guesser = app.test_client()
    caplog.set_level(logging.WARNING, logger="webapp.throttle")
    away = {"REMOTE_ADDR": "203.0.113.9"}
    answers = [
        guesser.post("/login", data={"password": f"guess {i}"}, environ_base=away).status_code
        for i in range(40)
    ]
    assert answers[:FREE_TRIES] == [200] * FREE_TRIES  # the form again, "Wrong password."
    assert set(answers[FREE_TRIES:]) == {429}
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == FREE_TRIES and all("203.0.113.9" in m for m in logged)
    refused = guesser.post("/login", data={"password": PASSWORD}, environ_base=away)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    # Another client is not held back by the guesser.
    assert login(app.test_client()) == "/"


def test_the_wait_doubles_and_ends() -> None:
    now = [1000.0]
    throttle = Throttle(clock=lambda: now[0])
    for _ in range(FREE_TRIES):
        assert throttle.wait_s("a") == 0.0
        throttle.failed("a", "test")
    assert throttle.wait_s("a") == pytest.approx(2.0)
    now[0] += 2.5
    assert throttle.wait_s("a") == 0.0
    throttle.failed("a", "test")
    assert throttle.wait_s("a") == pytest.approx(4.0)
    throttle.succeeded("a")
    assert throttle.wait_s("a") == 0.0
    for _ in range(FREE_TRIES + 3):
        throttle.failed("b", "test")
    now[0] += 901.0  # a quarter of an hour later, forgotten
    assert throttle.wait_s("b") == 0.0


def test_basic_auth_guesses_are_slowed_too(site_url: str) -> None:
    client = site(site_url).test_client()
    codes = [
        client.get("/api/sessions", auth=("x", f"guess {i}")).status_code
        for i in range(FREE_TRIES + 2)
    ]
    assert codes[:FREE_TRIES] == [401] * FREE_TRIES and codes[FREE_TRIES:] == [429, 429]


def test_a_login_expires_even_for_a_copied_cookie(
    site_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = site(site_url, session_hours=1.0)
    client = app.test_client()
    assert login(client) == "/"
    cookie = client.get_cookie("chargelog_session")
    assert cookie is not None and cookie.expires is not None  # not a browser-session cookie
    assert client.get("/").status_code == 200
    copy = app.test_client()
    copy.set_cookie("chargelog_session", cookie.value)
    assert copy.get("/").status_code == 200
    later = time.time() + 3601
    monkeypatch.setattr("webapp.auth.time.time", lambda: later)
    assert client.get("/").status_code == 302
    assert copy.get("/api/sessions").status_code == 401


def test_secure_cookies_on_request(site_url: str) -> None:
    plain = site(site_url).test_client()
    login(plain)
    cookie = plain.get_cookie("chargelog_session")
    assert cookie is not None and not cookie.secure
    secure = site(site_url, secure_cookies=True).test_client()
    login(secure)
    cookie = secure.get_cookie("chargelog_session")
    assert cookie is not None and cookie.secure


@pytest.mark.parametrize(
    ("line", "error"),
    [("session_hours = 0", "session_hours"), ("secure_cookies = maybe", "secure_cookies")],
)
def test_bad_login_settings_name_their_key(tmp_path: Path, line: str, error: str) -> None:
    path = tmp_path / "c.ini"
    path.write_text(f"[web]\n{line}\n")
    with pytest.raises(ConfigError, match=error):
        load_config(str(path))
