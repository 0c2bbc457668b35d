"""Power and energy over one plug-in session, from the journal, for the detail chart.

A session's ids are journal positions: its messages lie between its own id (the plug-in message)
and the next plug-in on the same charger. They are live rows, sealed segments (closed days,
journal/segments.py), or both when sealing stopped inside the session; everything is read in one
snapshot (Store.snapshot), so a seal committing meanwhile cannot hide a message from both reads.

Either way the readings are averaged into at most MAX_POINTS time buckets per topic, with the
same rules (webapp/sealed.py), and the two parts merged by sum and count:
- live rows: a search on seq (received_at grows with seq: arrival order) narrows the range to
  the unplug. A short range is read whole; a long one (every charger's messages count, so three
  busy chargers make ~20 rows a second) is sampled: evenly spaced slices of the seq range, each
  long enough (WINDOW_S) to hold a full dump of any firmware, about SAMPLE_ROWS rows in all. The
  database does the averaging: one primary-key range lookup per slice, and at most a few
  thousand aggregated rows to Python.
- sealed messages: every one of the session's few topics, from the segments of its charger and
  days, decoded once and then kept in an LRU cache (segments never change).
A damaged segment is never drawn: session_series raises segments.SegmentDamaged.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from journal.entries import (
    bucketed_sums,
    first_live_between,
    last_seq_received_by,
    stored_text,
    to_micros,
)
from journal.reader import last_seq
from journal.storage import Store
from projector.runner import LIVE
from projector.sessions import SessionRow, next_plugin_id
from projector.tables import read_checkpoint
from webapp.sealed import Buckets, merge, sealed_buckets

MAX_POINTS = 1000
KEYS = ("power", "amp", "voltage", "volt", "session_energy", "total_energy", "wh")
COUNTERS = {"session_energy": 1.0, "total_energy": 1000.0, "wh": None}  # to Wh; None: per charger
SAMPLE_ROWS = 40_000  # journal positions read at most; longer sessions are sampled in slices
WINDOW_S = 35.0  # a slice's length in time: 2.x and idle chargers dump every 30 s
PLAUSIBLE = 1e9  # readings outside 0..PLAUSIBLE are junk (the projector ignores them too)
MAX_POWER_W = 50_000.0  # an energy step faster than this is a bad reading, not charging
US = 1_000_000


def _slices(low: int, high: int, seconds: float) -> tuple[int, int, int]:
    """(count, step, size) of the seq slices to read: the whole range when it is small."""
    span = high - low + 1
    if span <= SAMPLE_ROWS:
        return 1, span, span
    size = min(SAMPLE_ROWS, max(1, round(span / max(seconds, 1.0) * WINDOW_S)))
    count = max(2, min(MAX_POINTS, SAMPLE_ROWS // size))
    return count, (span - size) // (count - 1), size  # the last slice ends at `high`


def _wh_scale(store: Store, charger: str) -> float:
    """2.x's `wh` is watt-seconds up to 2.7.5 and lifetime Wh after: the projector decided which."""
    checkpoint = read_checkpoint(store, LIVE)
    if checkpoint is None:
        return 1.0
    machine = json.loads(checkpoint.machine_state).get("machines", {}).get(charger, {})
    return float(machine.get("wh_scale") or 1.0)


def session_series(
    store: Store, session: SessionRow, now: datetime, bases: Sequence[str] | None = None
) -> dict[str, Any]:
    """{"t": [unix s], "power_kw": [...], "energy_kwh": [...], "sampled": bool}; None where
    nothing was heard. `bases` are the base topics the session's charger published under (its
    [chargers] entry; default: its name). Raises segments.SegmentDamaged when a segment it needs
    is damaged."""
    bases = list(bases or (session.charger,))
    start = session.plugged_at
    end = session.unplugged_at or now
    start_us, end_us = to_micros(stored_text(start)), to_micros(stored_text(end))
    width = max(US, (end_us - start_us) // MAX_POINTS + 1)
    following = next_plugin_id(store, session)  # the projection's tables: before the snapshot
    scale = _wh_scale(store, session.charger)
    topics = [f"{base}/{k}" for base in bases for k in KEYS]
    with store.snapshot():
        top = following - 1 if following is not None else last_seq(store)
        buckets = sealed_buckets(
            store,
            bases,
            topics,
            low=session.id,
            high=top,
            start_us=start_us,
            end_us=end_us,
            width_us=width,
            ceiling=PLAUSIBLE,
        )
        sampled = _add_live(store, session, buckets, topics, top, start_us, end_us, width)
    values: dict[int, dict[str, tuple[float, float]]] = defaultdict(dict)
    for topic, by_index in buckets.items():
        key = topic.rpartition("/")[2]
        for index, (total, count, peak) in by_index.items():
            values[index][key] = (total / count, peak)
    order = sorted(values)
    times = [(start_us + i * width + width // 2) / US for i in order]
    power = [_power(values[i]) for i in order]
    energy = _energy([values[i] for i in order], scale, times, start_us / US, width / US / 2)
    return {
        "sampled": sampled,
        "t": [round(t, 1) for t in times],
        "power_kw": [None if p is None else round(p / 1000, 3) for p in power],
        "energy_kwh": [None if e is None else round(e / 1000, 3) for e in energy],
    }


def _add_live(
    store: Store,
    session: SessionRow,
    buckets: Buckets,
    topics: list[str],
    top: int,
    start_us: int,
    end_us: int,
    width: int,
) -> bool:
    """Add the live rows' buckets (sampled when their range is long); whether it was."""
    first = first_live_between(store, session.id, top)
    if first is None:
        return False  # everything is sealed (or nothing was heard)
    low, low_at = first
    high = last_seq_received_by(store, end_us, low, top) if session.unplugged_at else top
    seconds = (end_us - max(start_us, low_at)) / US
    count, step, size = _slices(low, high, seconds)
    rows = bucketed_sums(
        store,
        topics,
        first=low,
        slices=count,
        step=step,
        size=size,
        start_us=start_us,
        end_us=end_us,
        width_us=width,
        ceiling=PLAUSIBLE,
    )
    live: Buckets = defaultdict(dict)
    for topic, index, total, n, peak in rows:
        live[topic][index] = (total, n, peak)
    for topic, by_index in live.items():
        merge(buckets.setdefault(topic, {}), by_index)
    return count > 1


def _power(values: dict[str, tuple[float, float]]) -> float | None:
    """Watts: the `power` topic, else amps (mA) times volts."""
    if "power" in values:
        return values["power"][0]
    volts = values.get("voltage") or values.get("volt")
    if "amp" in values and volts:
        return values["amp"][0] / 1000 * volts[0]
    return None


def _energy(
    values: list[dict[str, tuple[float, float]]],
    wh_scale: float,
    times: list[float],
    start: float,
    half_width: float,
) -> list[float | None]:
    """Wh since the plug-in: the sum of the best counter's increases, as the projector counts
    (a drop is a reset or a rollback and adds nothing; an impossible jump is a bad reading).
    A per-session counter (session_energy, 2.x's watt-seconds) counts from 0 at the plug-in
    when its first reading could have been charged since; a lifetime one from its first reading.
    """
    key = next((k for k in COUNTERS if any(k in v for v in values)), None)
    if key is None:
        return [None] * len(values)
    scale = COUNTERS[key] or wh_scale
    per_session = key == "session_energy" or (key == "wh" and scale < 1)
    out: list[float | None] = []
    total, previous, previous_t = 0.0, None, 0.0
    for bucket, moment in zip(values, times, strict=True):
        if key in bucket:
            reading = bucket[key][1] * scale
            if previous is None:
                since_plugin = MAX_POWER_W * (moment + half_width - start) / 3600
                fresh = per_session and reading <= since_plugin
                previous, previous_t = (0.0, start) if fresh else (reading, moment)
            step = reading - previous
            if step <= MAX_POWER_W * max(moment + half_width - previous_t, 1.0) / 3600:
                total += max(step, 0.0)
                previous, previous_t = reading, moment
        out.append(total if previous is not None else None)
    return out
