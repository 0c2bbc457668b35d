"""Wrong passwords, slowed per client: a guesser gets a few tries, then waits.

Kept in the web process (waitress runs one): a restart forgets, which only a guesser minds.
Each wrong password is logged with the client's address, so fail2ban or a reader of the journal
can see who tries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

FREE_TRIES = 5  # wrong passwords answered at once, per client
WINDOW_S = 900.0  # failures older than this are forgotten
MAX_WAIT_S = 300.0


class Throttle:
    """Per client: after FREE_TRIES wrong passwords within WINDOW_S, each try must wait a
    doubling delay (2 s, 4 s, ... up to MAX_WAIT_S) after the last failure."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}  # client -> (count, last failure)

    def wait_s(self, client: str) -> float:
        """Seconds this client must still wait before its password is even checked."""
        with self._lock:
            count, last = self._failures.get(client, (0, 0.0))
            now = self.clock()
            if now - last > WINDOW_S:
                self._failures.pop(client, None)
                return 0.0
            if count < FREE_TRIES:
                return 0.0
            delay = min(2.0 ** (count - FREE_TRIES + 1), MAX_WAIT_S)
            return max(0.0, last + delay - now)

    def failed(self, client: str, how: str) -> None:
        with self._lock:
            count, last = self._failures.get(client, (0, 0.0))
            now = self.clock()
            count = 1 if now - last > WINDOW_S else count + 1
            self._failures[client] = (count, now)
            if len(self._failures) > 10_000:  # many clients: forget the oldest half
                oldest = sorted(self._failures.items(), key=lambda kv: kv[1][1])[:5_000]
                for key, _ in oldest:
                    del self._failures[key]
        log.warning("wrong password from %s (%s), %d in a row", client, how, count)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)
