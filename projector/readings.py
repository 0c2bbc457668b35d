"""Which journal entries the projection reads: a topic `<charger>/<key>` with one of these keys.

The charger is the topic base, everything before the last `/key` (`openevse-ab12/state` ->
`openevse-ab12`); `openevse/announce/<id>` describes a charger but is not one.
"""

from __future__ import annotations

# The keys the state machine reads; each must be a finite, non-negative number. Everything else
# (the 1 Hz amp/voltage/power, temperatures, config documents) is left in the journal unread.
PROJECTED_KEYS = ("state", "vehicle", "session_energy", "total_energy", "wh", "uptime")
NUMERIC_KEYS = frozenset(PROJECTED_KEYS)
ANNOUNCE_PREFIX = "openevse/announce/"


def split_topic(topic: str) -> tuple[str, str] | None:
    """`openevse-ab12/state` -> ('openevse-ab12', 'state'); a topic without a key is not ours."""
    base, sep, key = topic.rpartition("/")
    if not sep or not base or not key:
        return None
    return base, key
