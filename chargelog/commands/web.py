"""`chargelog serve` (the web app under waitress) and `chargelog passwd` (the password hash
for `[web] password_hash`)."""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import logging
import os
import signal
import sys
import threading
from typing import Any

from journal.config import Config

log = logging.getLogger(__name__)

THREADS = 8


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return int(text)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Stop(Exception):
    """Raised in the main thread by the signal handler: leaves waitress's loop."""


def cmd_serve(args: argparse.Namespace, cfg: Config) -> int:
    """Runs the app under waitress until Ctrl-C or SIGTERM (exit 0); warns when exposed without
    password. A schema this code does not know, met by any request's connection, stops the server
    too, and the command then fails with SchemaError (one line, exit 1)."""
    from waitress.server import create_server  # the same function; the stubs know it here

    from journal.migrate import SchemaError, ensure_schema
    from journal.storage import open_store
    from webapp import create_app

    host = args.host or cfg.web.host
    port = args.port or cfg.web.port
    with open_store(cfg.database.url) as store:
        ensure_schema(store, cfg.database.auto_migrate)
    if not _is_loopback(host) and not cfg.web.password_hash:
        print(
            f"chargelog: warning: serving on {host} without a password: anyone who can reach "
            "this port sees your sessions (set [web] password_hash with `chargelog passwd`)",
            file=sys.stderr,
        )
    app = create_app(cfg)
    refused: list[SchemaError] = []

    def refuse(exc: SchemaError) -> None:
        # From a worker thread: the 503 goes out first, then the main thread is interrupted.
        if not refused:
            refused.append(exc)
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()

    def stop(*_: Any) -> None:
        raise _Stop

    app.config["SCHEMA_REFUSED"] = refuse
    server = create_server(app, host=host, port=port, threads=THREADS, ident="chargelog")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    shown = f"[{host}]" if ":" in host else host
    print(f"chargelog: serving http://{shown}:{port}/ (Ctrl-C stops)", flush=True)
    try:
        server.run()
    except _Stop:
        pass
    finally:
        server.close()
    if refused:
        raise refused[0]
    return 0


def _read_password() -> str | None:
    """Twice on a terminal; one line from stdin otherwise (for scripts)."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New web password: ")
    if getpass.getpass("Again: ") != first:
        print("chargelog: the two passwords differ; nothing changed", file=sys.stderr)
        return None
    return first


def cmd_passwd(args: argparse.Namespace, cfg: Config) -> int:
    """Prints the [web] password_hash line; the password itself is never stored."""
    password = _read_password()
    if password is None:
        return 1
    if not password:
        print("chargelog: an empty password protects nothing; nothing changed", file=sys.stderr)
        return 1
    print(
        "# put this line in the [web] section of config.ini, then restart the web service:",
        file=sys.stderr,
    )
    from werkzeug.security import generate_password_hash

    print(f"password_hash = {generate_password_hash(password)}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Registers `serve` and `passwd` on chargelog's sub-command parser."""
    sub = subparsers.add_parser("serve", help="serve the web page (sessions, totals, health)")
    sub.add_argument(
        "--host", metavar="ADDRESS", help="address to bind (default: [web] host, 127.0.0.1)"
    )
    sub.add_argument("--port", type=_port, help="TCP port (default: [web] port, 8080)")
    sub.set_defaults(handler=cmd_serve)

    sub = subparsers.add_parser(
        "passwd", help="make the [web] password_hash line for a new web password"
    )
    sub.set_defaults(handler=cmd_passwd)
