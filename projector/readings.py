"""Which journal entries the projection reads: a topic `<charger>/<key>` with one of these keys.

The charger is the topic base, everything before the last `/key` (`openevse-ab12/state` ->
`openevse-ab12`); `openevse/announce/<id>` describes a charger but is not one.
"""

from __future__ import annotations

# The keys the state machine reads; each must be a finite, non-negative number. Everything else
# (the 1 Hz power, temperatures, config documents) is left in the journal unread.
PROJECTED_KEYS = ("state", "vehicle", "session_energy", "total_energy", "wh", "uptime")
# Read too, but only from chargers without a counter that moves while charging (2.7.6 to 4.1.0):
# their energy is integrated from these. The replay skips them for every other charger
# (Fleet.skipped_topics), so a 4.1.1+ charger's 1 Hz amp and voltage cost a replay nothing.
ELECTRICAL_KEYS = ("amp", "voltage", "volt")
# Text, not numbers: the RFID tag that authorised the session (5.x with RFID on, in every dump;
# empty while none has).
TAG_KEYS = ("rfid_auth",)
REPLAYED_KEYS = PROJECTED_KEYS + ELECTRICAL_KEYS + TAG_KEYS
NUMERIC_KEYS = frozenset(PROJECTED_KEYS + ELECTRICAL_KEYS)
ANNOUNCE_PREFIX = "openevse/announce/"


def split_topic(topic: str) -> tuple[str, str] | None:
    """`openevse-ab12/state` -> ('openevse-ab12', 'state'); a topic without a key is not ours."""
    base, sep, key = topic.rpartition("/")
    if not sep or not base or not key:
        return None
    return base, key
