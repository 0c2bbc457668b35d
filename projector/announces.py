"""What chargers say about themselves: `openevse/announce/<id>` (retained JSON, at every
(re)connection: `{"state": "connected", "id": ..., "name": ..., "mqtt": "<base>", ...}`). A
device that announced itself under two base topics was renamed or upgraded: the health page
suggests the `[chargers]` line that keeps it one charger.

Read from the sealed segments of the announce group and the live rows (a few a day, so the whole
history is small), for the health page only; the projection does not depend on them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from journal import segments
from journal.segment_codec import group_of
from journal.storage import Store
from projector.readings import ANNOUNCE_PREFIX

GROUP = group_of(ANNOUNCE_PREFIX + "x")  # `openevse/announce`: the segments' topic group
FAR_FUTURE_US = 253_402_300_799_999_999  # 9999-12-31 23:59:59.999999 UTC


@dataclass(frozen=True)
class Device:
    """One announcing device: its id, its latest name, and every base it announced, oldest
    first."""

    id: str
    name: str
    bases: tuple[str, ...]


def devices_from(payloads: Iterable[bytes]) -> list[Device]:
    """Devices from announce payloads in journal order; what is not such a document is skipped
    (the topic also carries `disconnected` wills, and junk is possible)."""
    names: dict[str, str] = {}
    bases: dict[str, list[str]] = {}
    for payload in payloads:
        try:
            doc = json.loads(payload)
        except ValueError:
            continue
        if not isinstance(doc, dict):
            continue
        device, base = doc.get("id"), doc.get("mqtt")
        if not isinstance(device, str) or not isinstance(base, str) or not base:
            continue
        name = doc.get("name")
        names[device] = name if isinstance(name, str) and name else names.get(device, device)
        seen = bases.setdefault(device, [])
        if base not in seen:
            seen.append(base)
    return [Device(d, names[d], tuple(bases[d])) for d in sorted(bases)]


def suggestions(devices: Iterable[Device], display: Mapping[str, str]) -> list[str]:
    """`[chargers]` lines for devices whose bases are not yet one charger (`display`: base ->
    display name, from the configuration)."""
    lines = []
    for device in devices:
        if len(device.bases) < 2 or len({display.get(b, b) for b in device.bases}) == 1:
            continue
        current = {display[b] for b in device.bases if b in display}
        name = min(current) if current else device.name
        lines.append(f"{name} = {', '.join(device.bases)}")
    return lines


def announced(store: Store) -> list[Device]:
    """Every device the journal heard announce itself, sealed and live."""
    payloads: list[tuple[int, bytes]] = []
    for info in segments.received_between(store, 0, FAR_FUTURE_US, groups=[GROUP]):
        payloads += [(m[0], m[3]) for m in segments.load(store, info) if m[2].startswith(GROUP)]
    rows = store.query(
        "SELECT seq, payload FROM journal WHERE topic LIKE ? ORDER BY seq",
        (ANNOUNCE_PREFIX + "%",),
    )
    store.rollback()
    payloads += [(int(seq), bytes(payload)) for seq, payload in rows]
    payloads.sort()
    return devices_from(p for _, p in payloads)
