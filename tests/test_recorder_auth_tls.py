"""The recorder against a broker that wants a password, and one that speaks only TLS: the
configurations the README documents for brokers reachable beyond localhost."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from journal.storage import Store
from tests.recorder_support import publisher, read_journal, running_recorder, write_config
from tests.services import PrivateBroker, free_port, wait_port

pytestmark = [pytest.mark.mqtt, pytest.mark.timeout(60)]


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1, made with the openssl CLI."""
    ca_key, ca, key, csr, cert = (
        folder / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem")
    )
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=chargelog test CA",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        str(key),
        "-out",
        str(csr),
    )
    extensions = folder / "san.ext"
    extensions.write_text("subjectAltName = IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(extensions),
        "-out",
        str(cert),
    )
    for path in (ca, key, cert):
        path.chmod(0o644)
    return ca, cert, key


def password_broker(folder: Path, user: str, password: str) -> PrivateBroker:
    """A started private broker that admits only `user` with `password`."""
    passwords = folder / "passwd"
    passwords.write_text("")
    subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password], check=True)
    passwords.chmod(0o644)
    broker = PrivateBroker(folder, extra=f"password_file {passwords}\n")
    broker.conf.write_text(
        broker.conf.read_text().replace("allow_anonymous true", "allow_anonymous false")
    )
    broker.start()
    return broker


def add_lines(config: Path, **sections: dict[str, str]) -> None:
    text = config.read_text()
    for section, values in sections.items():
        lines = "".join(f"{k} = {v}\n" for k, v in values.items())
        text = text.replace(f"[{section}]\n", f"[{section}]\n{lines}", 1)
    config.write_text(text)


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_username_and_password(
    protocol: str, db_url: str, store: Store, tmp_path: Path, topic_prefix: str
) -> None:
    folder = tmp_path / "broker"
    folder.mkdir()
    broker = password_broker(folder, "recorder", "s3cret pass")
    try:
        config = write_config(
            tmp_path,
            broker_port=broker.port,
            db_url=db_url,
            topics=f"{topic_prefix}/#",
            protocol=protocol,
        )
        add_lines(config, mqtt={"username": "recorder", "password": "s3cret pass"})
        with running_recorder(config), publisher(broker.port, "recorder", "s3cret pass") as pub:
            pub.publish(f"{topic_prefix}/state", b"3")
            wait_rows(store, 1)
        assert [e.payload for e in read_journal(store)] == [b"3"]
    finally:
        broker.stop()


def test_wrong_password_is_logged_and_retried(
    db_url: str, tmp_path: Path, topic_prefix: str
) -> None:
    folder = tmp_path / "broker"
    folder.mkdir()
    broker = password_broker(folder, "recorder", "right")
    try:
        config = write_config(
            tmp_path, broker_port=broker.port, db_url=db_url, topics=f"{topic_prefix}/#"
        )
        add_lines(config, mqtt={"username": "recorder", "password": "wrong"})
        with running_recorder(config, subscribed=False) as recorder:
            recorder.wait_for("refused the connection")
            assert recorder.running()  # it keeps trying: the broker's users may be fixed later
    finally:
        broker.stop()


def test_tls_with_a_private_ca(
    db_url: str, store: Store, tmp_path: Path, topic_prefix: str
) -> None:
    folder = tmp_path / "broker"
    folder.mkdir()
    ca, cert, key = make_certificates(folder)
    tls_port = free_port()
    broker = PrivateBroker(
        folder,
        extra=(
            f"listener {tls_port} 127.0.0.1\nallow_anonymous true\n"
            f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
        ),
    )
    broker.start()
    wait_port(tls_port)
    try:
        config = write_config(
            tmp_path, broker_port=tls_port, db_url=db_url, topics=f"{topic_prefix}/#"
        )
        add_lines(config, mqtt={"tls": "true", "ca_file": str(ca)})
        # the plain listener is for the test's publisher; the recorder only speaks TLS
        with running_recorder(config), publisher(broker.port) as pub:
            pub.publish(f"{topic_prefix}/state", b"2")
            wait_rows(store, 1)
        assert [e.payload for e in read_journal(store)] == [b"2"]
    finally:
        broker.stop()


def wait_rows(store: Store, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while len(read_journal(store)) < count:
        assert time.monotonic() < deadline, "the recorder journaled nothing"
        time.sleep(0.05)
