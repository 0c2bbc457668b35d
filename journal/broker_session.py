"""What the recorder knows about its session at the broker, and what a connect tells it (issue 9).

Mosquitto keeps our persistent session (subscriptions and the messages queued for us) in memory
and writes it to disk only every `autosave_interval` and at a clean shutdown. A broker killed
before its save comes back without the session: its CONNACK says "session present: false", and
whatever it had queued for us is gone. The first connect of a client id also says false, so the
answer means a loss only for a client id that held a session before: earlier in this process, or
in an earlier run (the record in `broker_session`, read once by the watcher).

The start of the possible loss is the last moment the recorder *knew* the broker held the
session: the end of its last connection (a connected client's session exists by definition), or,
if the recorder died without disconnecting, its last heartbeat while connected. That is honest
and on the safe side: the broker may have lost it later, never earlier. Pure logic, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Loss:
    """Messages published for us from `since_ns` until `detected_ns` may be missing."""

    since_ns: int
    detected_ns: int


class SessionLedger:
    """One client id's session as the recorder saw it; every time is ns since the epoch (UTC)."""

    def __init__(self) -> None:
        self.held_until_ns: int | None = None  # the last moment the broker surely held it
        self.connected = False
        # Whether held_until_ns already says all there is to know: the stored record was read, or
        # a connect with a session made it moot. Until then a "no session" answer cannot be judged.
        self.known = False

    def needs_record(self, session_present: bool) -> bool:
        """Only a connect without a session, before anything is known, needs the stored record."""
        return not session_present and not self.known

    def load(self, held_until_ns: int | None) -> None:
        """The stored record (None: this client id never held a session that we recorded)."""
        if held_until_ns is not None and (
            self.held_until_ns is None or held_until_ns > self.held_until_ns
        ):
            self.held_until_ns = held_until_ns
        self.known = True

    def connect(self, session_present: bool, at_ns: int) -> Loss | None:
        """A successful connect; a Loss when the broker forgot a session we had."""
        assert self.known or session_present, "read the record first (needs_record)"
        loss = None
        if not session_present and self.held_until_ns is not None:
            loss = Loss(since_ns=self.held_until_ns, detected_ns=at_ns)
        self.held_until_ns = at_ns
        self.connected = True
        self.known = True
        return loss

    def disconnect(self, at_ns: int) -> bool:
        """The connection ended: the session was held until now. True if that is news."""
        if not self.connected:
            return False
        self.connected = False
        self.held_until_ns = max(at_ns, self.held_until_ns or at_ns)
        return True

    def heartbeat(self, at_ns: int) -> bool:
        """Still connected, so the session is still held. True if that is news."""
        if not self.connected:
            return False
        self.held_until_ns = max(at_ns, self.held_until_ns or at_ns)
        return True
