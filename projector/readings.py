"""From a raw journal entry to a typed reading: which charger, which key, which value.

Pure and forgiving: a payload that is not what the key needs becomes a `BadValue`, which the state
machine counts and flags instead of guessing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The keys the state machine reads; each must be a finite, non-negative number. Everything else
# (the 1 Hz amp/voltage/power, temperatures, config documents) is left in the journal unread.
PROJECTED_KEYS = ("state", "vehicle", "session_energy", "total_energy", "wh", "uptime")
NUMERIC_KEYS = frozenset(PROJECTED_KEYS)
ANNOUNCE_PREFIX = "openevse/announce/"


@dataclass(frozen=True, slots=True)
class Reading:
    charger: str
    key: str
    value: float


@dataclass(frozen=True, slots=True)
class BadValue:
    charger: str
    key: str
    payload: bytes


def split_topic(topic: str) -> tuple[str, str] | None:
    """`openevse-ab12/state` -> ('openevse-ab12', 'state'); a topic without a key is not ours."""
    base, sep, key = topic.rpartition("/")
    if not sep or not base or not key:
        return None
    return base, key


def parse_number(payload: bytes) -> float | None:
    try:
        value = float(payload)  # bytes straight in: surrounding whitespace is allowed
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return value


def read(topic: str, payload: bytes) -> Reading | BadValue | None:
    """None for what the projector does not use (announces, temperatures, documents, ...)."""
    if topic.startswith(ANNOUNCE_PREFIX):
        return None
    parts = split_topic(topic)
    if parts is None:
        return None
    charger, key = parts
    if key not in NUMERIC_KEYS:
        return None
    value = parse_number(payload)
    if value is None:
        return BadValue(charger, key, payload)
    if key in ("state", "vehicle") and value != int(value):
        return BadValue(charger, key, payload)
    return Reading(charger, key, value)
