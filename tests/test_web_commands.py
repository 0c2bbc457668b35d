"""`chargelog passwd` and `chargelog serve` (issue 4)."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from werkzeug.security import check_password_hash

from chargelog.cli import build_parser, main
from chargelog.commands.web import _is_loopback
from tests.services import free_port, make_schema_newer, wait_port


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def passwd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stdin: io.StringIO, *typed: str) -> int:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", stdin)
    answers = iter(typed)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    return main(["passwd"])


def test_passwd_from_a_pipe(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert passwd(monkeypatch, tmp_path, io.StringIO("s3cret pass\n")) == 0
    out = capsys.readouterr()
    key, _, value = out.out.strip().partition(" = ")
    assert key == "password_hash" and check_password_hash(value, "s3cret pass")
    assert "[web]" in out.err


@pytest.mark.parametrize(
    ("typed", "code", "said"),
    [
        (("one", "one"), 0, "password_hash = "),
        (("one", "two"), 1, "differ"),
        (("", ""), 1, "empty"),
    ],
)
def test_passwd_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    typed: tuple[str, str],
    code: int,
    said: str,
) -> None:
    assert passwd(monkeypatch, tmp_path, Terminal(), *typed) == code
    out = capsys.readouterr()
    assert said in out.out + out.err


def test_serve_defaults_come_from_config() -> None:
    args = build_parser().parse_args(["serve"])
    assert args.host is None and args.port is None  # then [web] host and port
    assert build_parser().parse_args(["serve", "--port", "9000"]).port == 9000
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--port", "0"])


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("lan", False)],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert _is_loopback(host) is loopback


def start_serving(db_url: str, tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    """`chargelog serve` on a free port, answering once it returns."""
    port = free_port()
    config = tmp_path / "serve.ini"
    config.write_text(f"[database]\nurl = {db_url}\n[web]\nport = {port}\n")
    server = subprocess.Popen(
        [sys.executable, "-m", "chargelog.cli", "--config", str(config), "serve"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return server, port


def test_serve_runs_under_waitress(tmp_path: Path) -> None:
    server, port = start_serving(f"sqlite:///{tmp_path / 'c.db'}", tmp_path)
    try:
        wait_port(port, timeout=20)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200
            assert "No sessions yet" in response.read().decode()
            assert response.headers["Server"] == "chargelog"
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=20)
    assert server.returncode == 0, err
    assert f"serving http://127.0.0.1:{port}/" in out


def test_serve_stops_when_the_schema_moves_past_it(db_url: str, tmp_path: Path) -> None:
    """A newer chargelog migrates the database under a running server: the next request's
    connection sees it, answers 503, and the server exits 1 with one line, no traceback."""
    from journal.migrate import migrate
    from journal.storage import open_store

    server, port = start_serving(db_url, tmp_path)
    try:
        wait_port(port, timeout=20)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
            assert response.status == 200
        with open_store(db_url) as store:
            migrate(store)
            make_schema_newer(store)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
        assert refused.value.code == 503
        refused.value.close()
        _, err = server.communicate(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 1, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("chargelog:")]
    assert len(lines) == 1 and "version 9999" in lines[0], err
