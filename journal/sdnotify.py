"""The systemd notify protocol: one datagram to $NOTIFY_SOCKET, no dependency needed."""

from __future__ import annotations

import os
import socket
import time


class Notifier:
    """READY/STATUS/WATCHDOG for Type=notify units; a no-op outside systemd."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = env.get("NOTIFY_SOCKET", "")
        usec = env.get("WATCHDOG_USEC", "")
        # Ping at a third of the watchdog period so one slow batch does not trip it.
        self.watchdog_every = int(usec) / 3e6 if usec.isdigit() else 0.0
        self._last_ping = 0.0

    def send(self, message: str) -> None:
        if not self.address:
            return
        address = self.address
        if address.startswith("@"):
            address = "\0" + address[1:]
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            try:
                sock.connect(address)
                sock.sendall(message.encode())
            except OSError:
                pass

    def ready(self, status: str = "") -> None:
        self.send("READY=1" + (f"\nSTATUS={status}" if status else ""))

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def watchdog(self) -> None:
        """Called from the loop that makes progress; rate-limited here."""
        if not self.watchdog_every:
            return
        now = time.monotonic()
        if now - self._last_ping >= self.watchdog_every:
            self._last_ping = now
            self.send("WATCHDOG=1")
