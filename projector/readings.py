"""From a raw journal entry to a typed reading: which charger, which key, which value.

Pure and forgiving: a payload that is not what the key needs becomes a `BadValue`, which the state
machine counts and flags instead of guessing.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

# Keys whose payload must be a finite, non-negative number.
NUMERIC_KEYS = frozenset(
    {
        "state",
        "vehicle",
        "session_energy",
        "total_energy",
        "wh",
        "power",
        "amp",
        "voltage",
        "volt",
        "uptime",
    }
)
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


@dataclass(frozen=True, slots=True)
class Announce:
    """`openevse/announce/<id>` tells that the charger behind base topic `charger` (re)connected."""

    charger: str
    connected: bool


def split_topic(topic: str) -> tuple[str, str] | None:
    """`openevse-ab12/state` -> ('openevse-ab12', 'state'); a topic without a key is not ours."""
    base, sep, key = topic.rpartition("/")
    if not sep or not base or not key:
        return None
    return base, key


def parse_number(payload: bytes) -> float | None:
    try:
        value = float(payload.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return value


def parse_announce(payload: bytes) -> Announce | None:
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(document, dict):
        return None
    base, state = document.get("mqtt"), document.get("state")
    if not isinstance(base, str) or not base or state not in ("connected", "disconnected"):
        return None
    return Announce(base, state == "connected")


def read(topic: str, payload: bytes) -> Reading | BadValue | Announce | None:
    """None for what the projector does not use (temperatures, config documents, ...)."""
    if topic.startswith(ANNOUNCE_PREFIX):
        return parse_announce(payload)
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
    if key == "volt":
        key = "voltage"
    return Reading(charger, key, value)
