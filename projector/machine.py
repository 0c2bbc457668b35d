"""The session state machine for one charger: pure code, no I/O, deterministic.

It turns readings (state, vehicle, energy counters, uptime) into plug-in sessions and
charging cycles, following what OpenEVSE publishes (docs/openevse-mqtt.md: state codes, the
energy counters of each firmware generation, the cadence) and the definitions in issue #3:

- a plug-in session runs from the car being connected to its disconnection; an unplug that was
  not seen (charger off, broker gap) is placed at the last moment the car was known connected;
- a cycle is a maximal run of state 3 inside a plug-in session, ended by the next state, a
  reboot, or a gap after which the charger no longer charges;
- energy is the sum of the counter's increases; a drop to zero or at a plug-in is the firmware's
  own reset (count from 0), any other drop a rollback after a restart (count from where it came
  back); an increase after a cycle ended and before the next began belongs to the ended cycle;
- the books: the lifetime meter (`total_energy`) is read beside the session counter, its rises
  kept per plug-in session (`meter_mismatch` when the session's energy disagrees) and in ledger
  rows (LedgerRow) that say where what no session counted went: a silence, a rollback, a reset.

Every change marks the touched records in `changes`; the projector upserts them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from projector.money.pricing import Pricer
from projector.readings import ELECTRICAL_KEYS
from projector.records import (
    Cycle,
    LedgerRow,
    Plugin,
    add_flag,
    cycle_from_state,
    ledger_from_state,
    plugin_from_state,
    set_flag,
    to_state,
)

US = 1_000_000
GAP_US = 120 * US  # OpenEVSE repeats everything at least every 30 s: 2 minutes of silence is a gap
# A base this long silent while other chargers are heard has gone (renamed, replaced, switched
# off): its open plug-in ends at the last moment the car was known connected.
SILENT_FOR_GOOD_US = 12 * 3600 * US
REBOOT_WINDOW_US = 180 * US  # evidence of one reboot arriving over this long counts once
MAX_POWER_W = 50_000.0  # beyond any home or workplace AC charger
MAX_AMP_MA = 100_000.0
RESET_EPS_WH = 1.0
# The keys of one dump arrive within milliseconds, `state` before `vehicle`: what the charger says
# about the car is read together over this long before a plug-in is decided on.
DUMP_US = 2 * US
# A plug-in opened by a burst of stale values (a capture tool handed the broker's retained
# messages) is denied by the charger's next dump, within 30 s: one denied this soon was never
# made, and only this much time going by confirms one.
REPLAY_WINDOW_US = 45 * US
LATE_REPORT_US = 65 * US  # a cycle's last increase comes within two dumps of its end
REPORT_US = 35 * US  # 2.x reports every 30 s
# A rise this much faster than the cycle's own peak (plus the margin) waits for the next reading.
SURGE_FACTOR = 1.5
SURGE_MARGIN_W = 1000.0
CLOCK_BACK_US = 2 * US  # a receive time this far behind the one before: the recorder's clock moved
TWO_DEVICES_SLACK_S = 90  # an uptime this close to where an earlier series would be goes on with it
TWO_DEVICES_STREAK = 3  # interleaves in a row, each within STREAK_US of the last: two devices
STREAK_US = 600 * US
# Two units without uptime (2.x) on one base: each one's dump says its own state, so the state
# goes back to what it was before, again and again, one dump apart. No charger does that six
# times in a row.
FLIP_US = 35 * US
TWO_DEVICES_FLIPS = 6
COUNTER_KINDS = ("session_energy", "total_energy", "wh")
# `total_energy` is published in kWh with at least three decimals: a session agrees with the
# meter when they differ by no more than this plus 1%.
METER_RESOLUTION_WH = 1.0
METER_TOLERANCE = 0.01
# The meter's rise in the dump after an unplug is the session's last seconds, which 4.1.9+ never
# reports in `session_energy` (it resets at the unplug).
UNPLUG_TAIL_US = 35 * US
LEDGER_STEP_US = 900 * US  # outside sessions, ledger rows per quarter hour (any zone's month edge)
_TAG = re.compile(rb"[0-9A-Za-z:_-]{1,64}")  # an RFID UID as `rfid_auth` carries it
VOLTS_RANGE = (50.0, 500.0)  # a mains voltage; anything else is no reading of it


def end_reason_for(state: int) -> str:
    return {2: "stopped", 1: "unplugged", 254: "paused", 255: "disabled", 0: "reboot"}.get(
        state, "fault"
    )


@dataclass
class Changes:
    """Records touched since the last drain, by id (last write wins)."""

    cycles: dict[int, Cycle] = field(default_factory=dict)
    plugins: dict[int, Plugin] = field(default_factory=dict)
    gaps: dict[int, int] = field(default_factory=dict)  # silence start -> end (microseconds)
    ledger: dict[tuple[int, int], LedgerRow] = field(default_factory=dict)  # (id, anchor_at)

    def __bool__(self) -> bool:
        return bool(self.cycles or self.plugins or self.gaps or self.ledger)


class ChargerMachine:
    """One charger's state: small, serializable, and all the projector keeps between passes."""

    def __init__(self, name: str, changes: Changes, pricer: Pricer | None = None) -> None:
        self.name = name
        self.changes = changes
        self.pricer = pricer
        self.state: int | None = None
        self.vehicle: int | None = None
        self.has_vehicle = False
        # A silence since the last `vehicle`: what it said is stale until the next one.
        self.vehicle_stale = False
        self.uptime: float | None = None
        self.uptime_at: int | None = None
        # The uptime series before its last drop, (uptime, time): if a later reading goes on
        # with it, two devices publish under this one base.
        self.dropped_from: tuple[float, int] | None = None
        self.two_devices = 0  # how often that was seen
        self.interleaved = 0  # such returns in a row, the last at `interleaved_at`
        self.interleaved_at: int | None = None
        # The state before the last change, when it changed, and how many changes in a row
        # went straight back (see FLIP_US).
        self.flip: tuple[int | None, int, int] | None = None
        self.last_msg_at: int | None = None  # the newest receive time seen
        self.previous_at: int | None = None  # the receive time of the message before this one
        self.last_gap: tuple[int, int] | None = None
        self.gap_pending = False
        self.rebooted_at: int | None = None
        self.counter_kind: str | None = None
        self.wh_scale: float | None = None  # 1/3600 for 2.x watt-seconds, 1 for lifetime Wh
        # Whether the counter had a reading before the open plug-in began.
        self.counter_before_plugin = False
        self.counter: float | None = None
        self.counter_changed_at = 0
        self.counter_plugin: int | None = None
        # A drop of the counter to about 0 during a plug-in, not yet believed: (value, time,
        # plug-in id). The next reading decides: the counter going on from before the drop makes
        # it a stray value; one that starts low makes it a reset.
        self.pending_drop: tuple[float, int, int] | None = None
        # A rise far faster than the cycle's own charging, not yet believed: (value, time).
        self.pending_rise: tuple[float, int] | None = None
        # A `state 254` (sleeping) while nothing said whether a car is connected: (seq, time).
        # A `vehicle` of the same dump decides; a charger that sends none in it (2.x, 3.x) is
        # taken as connected, as before.
        self.pending_sleep: tuple[int, int] | None = None
        self.outside_wh = 0.0
        self.bad_values = 0
        # The lifetime meter: its last reading (Wh) and when; the counter energy counted since
        # (in sessions or outside them) and the plug-in it went to.
        self.meter: float | None = None
        self.meter_at: int | None = None
        self.meter_counted = 0.0
        self.meter_plugin: int | None = None
        self.meter_drop: float | None = None  # a lower reading, not yet believed
        # The last `amp` (mA) and voltage, and when amp was read: energy estimated from them.
        self.amp_ma: float | None = None
        self.amp_at: int | None = None
        self.volts: float | None = None
        # Earlier cycles of the open plug-in whose energy is still estimated: the lifetime
        # counter's rise at the unplug replaces their estimates.
        self.estimated: list[Cycle] = []
        self.plugin: Plugin | None = None
        self.cycle: Cycle | None = None
        # The last plug-in and cycle before a tentative plug-in: what a denied one gives back.
        self.prior: tuple[Plugin | None, Cycle | None] = (None, None)
        self.replays = 0  # plug-ins that the charger's next dump denied (stale replays)
        # The ledger rows that may still grow, by the start of their stretch.
        self.ledger: dict[int, LedgerRow] = {}
        self.seq = 0  # the message being read (ledger rows take it as their id)

    # ---- entry points ---------------------------------------------------------------------

    def feed(self, seq: int, t: int, key: str, value: float, retained: bool) -> None:
        if retained:
            # A replay at (re)subscription: the last value the broker kept, of unknown age, not
            # a message from the charger now. Live dumps tell the present within 30 s, so a
            # replay is never taken as a change; one that disagrees is only flagged.
            if key == "state" and self.state is not None and int(value) != self.state:
                self._flag_open("retained_replay")
            return
        self.seq = seq
        self._touch(t)
        if self.plugin is not None and self.plugin.tentative:
            self._weigh_tentative(t, key, value)
        if self.pending_sleep is not None and key != "vehicle":
            self._settle_sleep(t, key, value)
        if key == "state":
            self._on_state(seq, t, int(value))
        elif key == "vehicle":
            self._on_vehicle(seq, t, int(value))
        elif key in COUNTER_KINDS:
            self._on_counter(seq, t, key, value)
            if key == "total_energy":
                self._on_meter(t, value * 1000.0)
            elif key == "wh" and self._lifetime_counter():
                self._on_meter(t, value)  # 2.7.6 to 4.1.0: the lifetime `wh` is the meter
        elif key == "uptime":
            self._on_uptime(seq, t, value)
        elif key in ELECTRICAL_KEYS:
            self._on_electrical(t, key, value)

    def feed_tag(self, seq: int, t: int, payload: bytes, retained: bool) -> None:
        """`rfid_auth`: the tag that authorised the session, empty while none has (a UID, as
        the firmware prints it; anything else is a bad value)."""
        if retained:
            return
        self.seq = seq
        self._touch(t)
        if self.plugin is not None and self.plugin.tentative:
            self._weigh_tentative(t, "rfid_auth", 0.0)
        if self.pending_sleep is not None:
            self._settle_sleep(t, "rfid_auth", 0.0)
        if not payload:
            return
        if _TAG.fullmatch(payload) is None:
            self._count_bad()
            return
        plugin = self._open_plugin()
        if plugin is not None:
            plugin.rfid = payload.decode("ascii")
            self._mark_plugin()

    def bad(self, t: int) -> None:
        """An unreadable or implausible value: counted and flagged, never guessed."""
        self._touch(t)
        self._count_bad()

    def end_if_gone(self, t: int, heard_since: int) -> None:
        """`t` is a moment other chargers were heard at, and the recorder has heard without a
        gap since `heard_since`: after SILENT_FOR_GOOD_US of this one's silence within that,
        its plug-in ends as any silence ends one (`unplug_inferred`, the silence so far as
        `gap`), instead of staying "charging now" for ever. Should it speak again, a car still
        there opens a new plug-in."""
        plugin = self._open_plugin()
        last = self.last_msg_at
        if plugin is None or plugin.tentative or last is None:
            return
        if t - max(last, heard_since) <= SILENT_FOR_GOOD_US:
            return
        if (cycle := self._open_cycle()) is not None:
            add_flag(cycle.flags, "gap", (t - last) // US)
            self._end_cycle(cycle.last_charging_at, "gap")
        add_flag(plugin.flags, "gap", (t - last) // US)
        plugin.unplugged_at = plugin.last_connected_at
        add_flag(plugin.flags, "unplug_inferred")
        self.vehicle_stale = self.has_vehicle
        self._mark_plugin()

    # ---- gaps and reboots -------------------------------------------------------------------

    def _touch(self, t: int) -> None:
        if self.previous_at is not None and self.previous_at - t > CLOCK_BACK_US:
            # Times then run behind (durations from them can shrink, never below 0): say so.
            self._flag_open("clock_jump", (self.previous_at - t) // US)
        self.previous_at = t
        if self.last_msg_at is not None and t - self.last_msg_at > GAP_US:
            self.last_gap = (self.last_msg_at, t)
            self.vehicle_stale = self.has_vehicle
            seconds = (t - self.last_msg_at) // US
            if (plugin := self._open_plugin()) is not None:
                add_flag(plugin.flags, "gap", seconds)
                self._mark_plugin()
            if self._cycle_open():
                self.gap_pending = True
        self.last_msg_at = max(t, self.last_msg_at or t)

    def _reboot(self, seq: int, t: int) -> None:
        if self.rebooted_at is not None and t - self.rebooted_at < REBOOT_WINDOW_US:
            return
        self.rebooted_at = t
        if (plugin := self._open_plugin()) is not None:
            add_flag(plugin.flags, "reboot")
            self._mark_plugin()
        if self._cycle_open():
            cycle = self.cycle
            assert cycle is not None
            add_flag(cycle.flags, "reboot")
            self.gap_pending = False
            self._end_cycle(cycle.last_charging_at, "reboot")
            if self.state == 3:  # charging again already: a new cycle from this moment
                self._start_cycle(seq, t)

    # ---- state and vehicle -----------------------------------------------------------------

    def _on_state(self, seq: int, t: int, state: int) -> None:
        if state > 255:
            self._count_bad()
            return
        if self.gap_pending and self._cycle_open():
            self.gap_pending = False
            cycle = self.cycle
            assert cycle is not None and self.last_gap is not None
            if state == 3:
                add_flag(cycle.flags, "gap", (self.last_gap[1] - self.last_gap[0]) // US)
                self._mark_cycle()
            elif state != 0:  # state 0 after the silence: a reboot ends it, below
                self._end_cycle(cycle.last_charging_at, "gap")
        previous = self.state
        if state != previous:
            self._watch_flips(t, previous, state)
            self.state = state
            if state == 0:
                self._reboot(seq, t)
            else:
                if self._cycle_open():
                    self._end_cycle(t, end_reason_for(state))
                if state == 1:
                    self._unplug(t)
                elif state == 254 and not self.has_vehicle and not self._plugin_open():
                    self.pending_sleep = (seq, t)  # asleep, and the car unknown: wait for evidence
                elif state in (2, 3) or (state == 254 and self._car_known_connected()):
                    self._ensure_plugin(seq, t)
                if state == 3:
                    self._start_cycle(seq, t)
        connected = state in (2, 3) or (state == 254 and self._car_known_connected())
        if connected and (plugin := self._open_plugin()) is not None:
            plugin.last_connected_at = t
        if state == 3 and (cycle := self._open_cycle()) is not None and not self.gap_pending:
            cycle.last_charging_at = max(cycle.last_charging_at, t)
            self._mark_cycle()

    def _watch_flips(self, t: int, previous: int | None, state: int) -> None:
        last = self.flip
        back = last is not None and state == last[0] and t - last[1] <= FLIP_US
        streak = last[2] + 1 if back and last is not None else 0
        if streak >= TWO_DEVICES_FLIPS:
            self.two_devices += 1
            self._flag_open("two_devices")
            streak = 0
        self.flip = (previous, t, streak)

    def _on_vehicle(self, seq: int, t: int, vehicle: int) -> None:
        if vehicle not in (0, 1):
            self._count_bad()
            return
        self.has_vehicle = True
        self.vehicle = vehicle
        self.vehicle_stale = False
        if self.pending_sleep is not None:
            asleep_seq, asleep_at = self.pending_sleep
            self.pending_sleep = None
            if vehicle == 1 and self.state == 254:
                self._ensure_plugin(asleep_seq, asleep_at)  # connected since the state said so
        # The state tells connection in 1/2/3; the flag matters while sleeping, booting or in a
        # fault, and is unreliable while disabled (255).
        if self.state in (1, 2, 3, 255):
            plugin = self._open_plugin()
            if vehicle == 1 and self.state in (2, 3) and plugin is not None:
                plugin.last_connected_at = t
            return
        if vehicle == 1:
            self._ensure_plugin(seq, t).last_connected_at = t
        elif self._plugin_open():
            if self._cycle_open():
                self._end_cycle(t, "unplugged")
            self._unplug(t)

    def _car_known_connected(self) -> bool:
        """Asleep (254), the state alone does not say whether a car is there: the last `vehicle`
        does, unless a silence came after it (then its next one decides); a charger that sends
        no `vehicle` counts as connected."""
        return not self.has_vehicle or (bool(self.vehicle) and not self.vehicle_stale)

    def _settle_sleep(self, t: int, key: str, value: float) -> None:
        """A message other than `vehicle` after a `state 254` whose car was unknown: within the
        dump it waits (a new state decides at once), after it the charger evidently sends no
        `vehicle`, and sleeping counts as connected."""
        assert self.pending_sleep is not None
        asleep_seq, asleep_at = self.pending_sleep
        dump_over = t - asleep_at > DUMP_US
        if not dump_over and (key != "state" or int(value) == 254):
            return  # (2.x repeats `state` at the end of its dump: still asleep, still waiting)
        self.pending_sleep = None
        if dump_over:
            self._ensure_plugin(asleep_seq, asleep_at)

    def _weigh_tentative(self, t: int, key: str, value: float) -> None:
        """A message after a plug-in opened: past its own burst, the charger's live stream
        denies it (unplugged again within one dump interval and a margin: then it was a replay,
        and never was) or lets the window go by, which confirms it. Only time confirms: a
        second replay's `state 3` must not vouch for the first (a flapping capture tool
        reconnects again and again)."""
        plugin = self.plugin
        assert plugin is not None
        since = t - plugin.plugged_at
        ended = plugin.unplugged_at
        brief = ended is not None and ended - plugin.plugged_at <= REPLAY_WINDOW_US
        if since <= DUMP_US and not brief:
            return
        denied = (key == "state" and int(value) == 1) or (key == "vehicle" and int(value) == 0)
        if brief or (denied and since <= REPLAY_WINDOW_US):
            self.replays += 1
            self.plugin, self.cycle = self.prior
            self.prior = (None, None)
        elif since > REPLAY_WINDOW_US:
            plugin.tentative = False
            self.prior = (None, None)
            self._mark_cycle()
            self._mark_plugin()

    def _ensure_plugin(self, seq: int, t: int) -> Plugin:
        """The open plug-in session, begun now when there is none (tentative: see
        _weigh_tentative)."""
        plugin = self._open_plugin()
        if plugin is None:
            self.prior = (self.plugin, self.cycle)
            self.counter_before_plugin = self.counter is not None
            plugin = self.plugin = Plugin(
                id=seq, charger=self.name, plugged_at=t, last_connected_at=t, tentative=True
            )
            if self.meter is not None and not self._silence_since(self.meter_at):
                plugin.meter_start = self.meter  # else its first reading in the session
            if self.counter_kind == "wh":
                set_flag(plugin.flags, "legacy_counter")
            self._mark_plugin()
        return plugin

    def _unplug(self, t: int) -> None:
        plugin = self.plugin
        if plugin is None or plugin.closed:
            return
        silent = t - plugin.last_connected_at > GAP_US
        rebooted = self.rebooted_at is not None and self.rebooted_at > plugin.last_connected_at
        if silent or rebooted:
            plugin.unplugged_at = plugin.last_connected_at
            add_flag(plugin.flags, "unplug_inferred")
        else:
            plugin.unplugged_at = t
        if rebooted:
            self._book_lost_estimate(plugin, t)
        self._mark_plugin()

    def _book_lost_estimate(self, plugin: Plugin, t: int) -> None:
        """What is still estimated of a plug-in was delivered in a controller session that a
        power cut lost (inside the charge, _reconcile, or whole: the car left while the charger
        was off): it never reaches the lifetime `wh`, and the books say so as the meter going
        back by it (a rollback, as 4.1.9+ after a power cut)."""
        if not self._lifetime_counter() or self.meter is None:
            return
        lost = self._estimate_of(plugin.id)
        if lost > 0:
            plugin.meter_rollback_wh -= lost
            self._ledger_row(t, plugin).rollback_wh -= lost

    # ---- cycles -----------------------------------------------------------------------------

    def _start_cycle(self, seq: int, t: int) -> None:
        self._ensure_plugin(seq, t)
        plugin = self.plugin
        assert plugin is not None
        previous = self.cycle
        self.estimated = [c for c in self.estimated if c.plugin_id == plugin.id]
        if previous is not None and previous.estimated_wh and previous.plugin_id == plugin.id:
            self.estimated.append(previous)
        self.cycle = Cycle(
            id=seq,
            charger=self.name,
            plugin_id=plugin.id,
            started_at=t,
            last_charging_at=t,
            counter_start=self.counter,
            counter_end=self.counter,
        )
        if self.counter_kind == "wh":
            set_flag(self.cycle.flags, "legacy_counter")
        plugin.cycle_count += 1
        self._mark_cycle()

    def _end_cycle(self, at: int, reason: str) -> None:
        cycle = self.cycle
        assert cycle is not None and cycle.ended_at is None
        if self.amp_ma is not None:
            self._integrate(at, self.amp_ma)  # the last reading held to the end
        cycle.ended_at = max(at, cycle.started_at)
        cycle.end_reason = reason
        self.gap_pending = False
        if self.plugin is not None and self.plugin.id == cycle.plugin_id:
            self.plugin.charging_us += cycle.duration_us()
        self._mark_cycle()

    # ---- energy -------------------------------------------------------------------------------

    def _on_counter(self, seq: int, t: int, key: str, raw: float) -> None:
        kind = self._counter_kind_for(key)
        if kind is None:
            return  # a lower-priority counter of a charger that has a better one
        value = raw * 1000.0 if key == "total_energy" else raw
        if kind == "wh":
            if self.wh_scale is None and not self._decide_wh_scale(raw):
                return
            value = raw * (self.wh_scale or 1.0)
        previous = self.counter
        if previous is None:
            self._first_reading(value, t)
            return
        if self.pending_drop is not None and self._settle_drop(value, previous, t, seq):
            return
        if self.pending_rise is not None:
            risen, risen_at = self.pending_rise
            self.pending_rise = None
            if value >= risen:  # the counter went on from it: the rise was real
                self._add_energy(risen - previous, risen, risen_at)
                self._set_counter(risen, risen_at)
            else:
                self._count_bad()  # it came back: one stray (replayed) value
        previous = self.counter
        assert previous is not None
        delta = value - previous
        if delta > 0:
            # Power over the time since the counter last moved (a lifetime counter moves once
            # per session; repeated equal readings in dumps say nothing about accrual).
            watts = delta * 3600.0 / self._accrual_seconds(t)
            if watts > MAX_POWER_W:
                self._count_bad()
                return
            cycle = self._open_cycle()
            if (
                cycle is not None
                and cycle.peak_power_w
                and watts > SURGE_FACTOR * cycle.peak_power_w + SURGE_MARGIN_W
                and not self._silence_since(self.counter_changed_at)
            ):
                # Far faster than this cycle has charged: believed once the next reading goes
                # on from it (a stale replayed counter jumps up and comes back).
                self.pending_rise = (value, t)
                return
            self._add_energy(delta, value, t)
        elif delta < 0:
            if self._at_plugin_boundary():
                plugin = self._open_plugin()
                assert plugin is not None
                seconds = max((t - plugin.plugged_at) / US, 5.0)
                if value * 3600.0 / seconds > MAX_POWER_W:
                    self._count_bad()  # more than the plug-in could have taken: an old value
                    return
                if value > 0:
                    self._add_energy(value, value, t)  # the reset at plug-in: count from 0
            elif (plugin := self._open_plugin()) is not None:
                # A reset, a rollback, or one stray (replayed) value? The next reading decides.
                self.pending_drop = (value, t, plugin.id)
                return
        self._set_counter(value, t)

    def _accrual_seconds(self, t: int) -> float:
        """Over how long an increase of the counter read now can have been delivered, to judge
        its power: since the counter last moved (a lifetime counter moves once per session;
        repeated equal readings in dumps say nothing about accrual), but, with no silence in
        between, no earlier than the cycle it belongs to: a cycle begun moments ago in this very
        burst, or a cycle that ended (a late report was delivered before its end). A stale
        replay's `state 3` and old `session_energy` arrive together, and fail this."""
        since, until = self.counter_changed_at, t
        cycle = self.cycle
        if cycle is not None and not self._lifetime_counter() and not self._silence_since(since):
            if cycle.ended_at is None and t - cycle.started_at <= DUMP_US:
                since = max(since, cycle.started_at)
            elif cycle.ended_at is None:
                # Nothing is delivered between cycles: at most one report before this one began
                since = max(since, cycle.started_at - REPORT_US)
            else:
                since, until = max(since, cycle.started_at), cycle.ended_at
        return max((until - since) / US, 5.0)

    def _estimate_charging(self, cycle: Cycle, wh: float) -> None:
        """Energy that arrived after the silence that ended a cycle was delivered inside it:
        charging time at least what that energy needs at the cycle's own peak power (never
        0 minutes for 4.7 kWh), at most the silence; flagged `charging_estimated`."""
        assert self.last_gap is not None
        watts = cycle.peak_power_w
        if not watts:
            seconds = cycle.duration_us() / US
            watts = cycle.energy_wh * 3600.0 / seconds if seconds > 0 and cycle.energy_wh else 0
        if not watts:
            return
        silence = self.last_gap[1] - self.last_gap[0]
        extra = min(round(wh * 3600.0 / watts * US), max(0, silence - cycle.estimated_us))
        if extra <= 0:
            return
        cycle.estimated_us += extra
        add_flag(cycle.flags, "charging_estimated", extra // US)
        plugin = self.plugin
        if plugin is not None and plugin.id == cycle.plugin_id:
            plugin.charging_us += extra
            add_flag(plugin.flags, "charging_estimated", extra // US)

    def _lifetime_counter(self) -> bool:
        """The 2.7.6 to 4.1.0 `wh`: lifetime Wh, moving once per session, at the unplug."""
        return self.counter_kind == "wh" and self.wh_scale == 1.0

    def _settle_drop(self, value: float, previous: float, t: int, seq: int) -> bool:
        """The reading after a drop decides what the drop was: the counter going on from before
        it makes it one stray value; one that starts low again after a drop to about 0, a
        firmware reset (count from 0); otherwise the counter went back (a rollback after a
        restart: count from where it came back). True when this reading is fully dealt with."""
        assert self.pending_drop is not None
        low, dropped_at, plugin_id = self.pending_drop
        if t - dropped_at <= DUMP_US and value <= previous:
            return True  # the same burst: no evidence yet either way (two stray zeros in a row)
        self.pending_drop = None
        if value >= previous:
            self._count_bad()  # the counter went on from before it: one stray reading
            return False
        plugin = self._open_plugin()
        if plugin is None or plugin.id != plugin_id:
            self.counter = low  # the plug-in ended meanwhile: the drop stands, nothing to count
            return False
        seconds = max((t - dropped_at) / US, 5.0)
        if low <= RESET_EPS_WH and value * 3600.0 / seconds <= MAX_POWER_W:
            if value > 0:
                self._add_energy(value, value, t)  # a firmware reset: count from 0
            self._set_counter(value, t)
            return True
        self._flag_open("counter_rollback")
        self._reboot(seq, t)
        if value > low and (value - low) * 3600.0 / seconds <= MAX_POWER_W:
            self.counter = low
            self._add_energy(value - low, value, t)
        self._set_counter(value, t)
        return True

    def _counter_kind_for(self, key: str) -> str | None:
        rank = {"session_energy": 0, "total_energy": 1, "wh": 2}
        if self.counter_kind is None or rank[key] < rank[self.counter_kind]:
            self.counter_kind = key  # a better counter appeared: start from its first reading
            if key != "wh":
                self._drop_estimates()  # it moves while charging: no estimate is needed
            self.counter = None
            self.pending_drop = self.pending_rise = None
            self.wh_scale = None
            if (cycle := self._open_cycle()) is not None:
                cycle.counter_start = None
        return key if key == self.counter_kind else None

    def _decide_wh_scale(self, raw: float) -> bool:
        """2.x `wh` is watt-seconds of the session (<= 2.7.5) or lifetime Wh growing only at
        unplug (2.7.6+): an increase while charging or a reset means the former."""
        if self.counter is None:
            self.counter, self.counter_changed_at = raw, self.last_msg_at or 0
            return False
        plugin = self._open_plugin()
        if plugin is not None and plugin.tentative:
            # A plug-in not confirmed yet (the journal's first burst may be a replay): what the
            # counter does in it is no evidence. Decide later, from the reading before it (a
            # 2.x session counter reset at this plug-in shows then as the drop it is), or, when
            # there was none, from the latest.
            if not self.counter_before_plugin:
                self.counter = raw
            return False
        if raw == self.counter or (raw < self.counter and plugin is None):
            return False  # (a drop with no car: no reset of either kind, a stray old value)
        seconds = max(((self.last_msg_at or 0) - self.counter_changed_at) / US, 5.0)
        if raw > self.counter and (raw - self.counter) / seconds > MAX_POWER_W:
            self._count_bad()  # too fast even as watt-seconds: junk decides nothing
            return False
        lifetime = raw > self.counter and not self._cycle_open() and not self._plugin_open()
        self.wh_scale = 1.0 if lifetime else 1.0 / 3600.0
        if not lifetime:
            self._drop_estimates()  # session watt-seconds: the counter tells the energy
        elif self.meter is None and not self._silence_since(self.counter_changed_at):
            # The lifetime `wh` is the meter, and was already before anyone knew: its reading
            # before this rise opens the books (the plug-in it rose for included).
            self.meter, self.meter_at = self.counter, self.counter_changed_at
            last = self.plugin
            if last is not None and self.counter_before_plugin and last.meter_start is None:
                last.meter_start = self.counter
        self.counter *= self.wh_scale
        for record in (self.plugin, self.cycle):
            if record is not None:
                set_flag(record.flags, "legacy_counter")
        return True

    def _first_reading(self, value: float, t: int) -> None:
        """No earlier reading: a session counter read during a cycle that began moments ago
        counted from 0 at the plug-in (what it holds is this cycle's energy); otherwise, e.g. a
        journal that starts mid-charge, the reading is only a base."""
        cycle = self.cycle
        if (
            self.counter_kind == "session_energy"
            and cycle is not None
            and not cycle.closed
            and value > 0
            and value * 3600.0 / max((t - cycle.started_at) / US, 5.0) <= MAX_POWER_W
        ):
            cycle.counter_start = 0.0
            self.counter, self.counter_changed_at = 0.0, cycle.started_at
            self._add_energy(value, value, t)
        self._set_counter(value, t)

    def _set_counter(self, value: float, t: int) -> None:
        if value != self.counter:
            self.counter_changed_at = t
        self.counter = value
        plugin = self._open_plugin()
        self.counter_plugin = plugin.id if plugin is not None else None
        cycle = self.cycle
        if cycle is not None and not cycle.closed and cycle.counter_start is None:
            cycle.counter_start = value
            cycle.counter_end = value
            self._mark_cycle()

    def _at_plugin_boundary(self) -> bool:
        """The first reading since a plug-in: a drop here is the 4.1.x reset at plug-in."""
        plugin = self._open_plugin()
        return plugin is not None and self.counter_plugin != plugin.id

    def _add_energy(self, delta: float, value: float, t: int) -> None:
        cycle = self.cycle
        plugin = self.plugin
        # An increase after the cycle ended is its own when it comes with the next report (2.x
        # reports every 30 s; a lifetime `wh` moves only at the unplug) or after a silence that
        # held it back, unless the car had left before that silence: then another plug-in the
        # journal never saw took it (the meter's books). A session counter's increase later
        # than that is no report of that cycle (a replayed old value).
        late = (
            cycle is not None
            and cycle.ended_at is not None
            and plugin is not None
            and plugin.id == cycle.plugin_id
            and not (plugin.closed and self._silence_since(plugin.unplugged_at))
            and (
                self._lifetime_counter()
                or t - cycle.ended_at <= LATE_REPORT_US
                or self._silence_since(cycle.ended_at)
            )
        )
        if cycle is not None and (not cycle.closed or late):
            if self._lifetime_counter() and self._reconcile(cycle, delta, value, t):
                return
            self.meter_counted += delta
            if cycle.closed and cycle.end_reason == "gap" and self._silence_since(cycle.ended_at):
                self._estimate_charging(cycle, delta)
            cycle.energy_wh += delta
            cycle.counter_end = value
            if self.pricer is not None:
                # Delivered since the counter last moved (a late increase: before the cycle ended)
                since = max(self.counter_changed_at, cycle.started_at)
                until = min(t, cycle.ended_at) if cycle.ended_at is not None else t
                self.pricer.add(cycle.costs, self.name, since, max(since, until), delta)
            if not cycle.closed and not self.gap_pending:
                cycle.last_charging_at = max(cycle.last_charging_at, t)
                # Peak power as the highest average between two counter readings (5 s on 4.x/5.x,
                # 30 s on 2.x): the 1 Hz `power` topic is left to the session detail page.
                seconds = (t - max(self.counter_changed_at, cycle.started_at)) / US
                if seconds >= 1.0:
                    watts = round(delta * 3600.0 / seconds, 1)
                    if watts > (cycle.peak_power_w or 0.0):
                        cycle.peak_power_w = watts
            if plugin is not None and plugin.id == cycle.plugin_id:
                plugin.energy_wh += delta
                self.meter_plugin = plugin.id
                self._mark_plugin()
            self._mark_cycle()
        else:
            self.outside_wh += delta
            open_plugin = self._open_plugin()
            if open_plugin is not None or not self._silence_since(self.meter_at):
                # (across a silence, with no plug-in, the meter's next reading tells it as gap)
                self.meter_counted += delta
                self._ledger_row(t, open_plugin).outside_wh += delta
            if open_plugin is not None:
                add_flag(open_plugin.flags, "energy_outside_cycle")
                self._mark_plugin()

    # ---- energy estimated from amp and voltage -------------------------------------------------

    @property
    def needs_power(self) -> bool:
        """Whether amp and voltage can matter: only while no counter that moves during a charge
        is known (none yet, or `wh` that is not the 2.x session watt-seconds). Once false, false
        for good (counters only get better), so the projector's reader may skip those topics."""
        scale = self.wh_scale
        return self.counter_kind is None or (
            self.counter_kind == "wh" and (scale is None or scale >= 1.0)
        )

    def _on_electrical(self, t: int, key: str, value: float) -> None:
        if not self.needs_power:
            return
        if key != "amp":
            if VOLTS_RANGE[0] <= value <= VOLTS_RANGE[1]:
                self.volts = value
            return
        if value > MAX_AMP_MA:
            self._count_bad()
            return
        self._integrate(t, value)
        self.amp_ma, self.amp_at = value, t

    def _integrate(self, t: int, amp_ma: float) -> None:
        """The energy of the open cycle since the last `amp` (or its start), from the mean of
        the two readings (the new one alone over the cycle's first stretch: the one before it
        was read before charging began). A stretch longer than a gap is not guessed at."""
        cycle = self._open_cycle()
        if cycle is None or self.gap_pending or self.volts is None or not self.needs_power:
            return
        at = self.amp_at
        fresh = at is None or at <= cycle.started_at or self.amp_ma is None
        since = cycle.started_at if fresh or at is None else at
        if not 0 < t - since <= GAP_US:
            return
        amps = amp_ma if fresh or self.amp_ma is None else (self.amp_ma + amp_ma) / 2.0
        watts = amps / 1000.0 * self.volts
        wh = watts * (t - since) / US / 3600.0
        if wh <= 0:
            return
        cycle.energy_wh += wh
        cycle.estimated_wh += wh
        cycle.flags["energy_estimated"] = round(cycle.estimated_wh)
        peak = round(amp_ma / 1000.0 * self.volts, 1)
        if peak > (cycle.peak_power_w or 0.0):
            cycle.peak_power_w = peak
        if self.pricer is not None:
            self.pricer.add(cycle.costs, self.name, since, t, wh)
        plugin = self.plugin
        if plugin is not None and plugin.id == cycle.plugin_id:
            plugin.energy_wh += wh
            plugin.flags["energy_estimated"] = round(self._estimate_of(plugin.id))
        self._mark_cycle()

    def _estimated_cycles(self, plugin_id: int) -> list[Cycle]:
        cycles = [c for c in self.estimated if c.plugin_id == plugin_id]
        if self.cycle is not None and self.cycle.plugin_id == plugin_id:
            cycles.append(self.cycle)
        return [c for c in cycles if c.estimated_wh]

    def _estimate_of(self, plugin_id: int) -> float:
        return sum(c.estimated_wh for c in self._estimated_cycles(plugin_id))

    def _reconcile(self, cycle: Cycle, delta: float, value: float, t: int) -> bool:
        """The lifetime counter moved (at the unplug): its rise is the plug-in's energy since
        the controller's session began, shared among those cycles as their estimates were, and
        repriced over each cycle. A reboot restarts that session and what came before it never
        reaches the counter: cycles before the last reboot keep their estimates. False when
        nothing was estimated since (the rise is then counted as before)."""
        since = self.rebooted_at
        cycles = [
            c
            for c in self._estimated_cycles(cycle.plugin_id)
            if since is None or c.started_at >= since
        ]
        estimate = sum(c.estimated_wh for c in cycles)
        if estimate <= 0:
            return False
        self.meter_counted += delta
        for c in cycles:
            c.energy_wh += delta * c.estimated_wh / estimate - c.estimated_wh
            c.estimated_wh = 0.0
            c.flags.pop("energy_estimated", None)
            if self.pricer is not None:
                c.costs = {}
                end = c.ended_at if c.ended_at is not None else t
                self.pricer.add(c.costs, self.name, c.started_at, end, c.energy_wh)
            if not self._tentative(c.plugin_id):
                self.changes.cycles[c.id] = c
        cycle.counter_end = value
        self.estimated = [c for c in self.estimated if c.estimated_wh]
        plugin = self.plugin
        if plugin is not None and plugin.id == cycle.plugin_id:
            plugin.energy_wh += delta - estimate
            left = self._estimate_of(plugin.id)
            if left:
                plugin.flags["energy_estimated"] = round(left)
                self._book_lost_estimate(plugin, t)  # (delivered before the reboot)
            else:
                plugin.flags.pop("energy_estimated", None)
            self.meter_plugin = plugin.id
        self._mark_cycle()
        return True

    def _drop_estimates(self) -> None:
        """A counter that tells the energy appeared: what was estimated before it goes (it
        counted nothing until now, so the estimate was all these cycles held)."""
        plugin = self.plugin
        for c in [*self.estimated, self.cycle]:
            if c is None or not c.estimated_wh:
                continue
            c.energy_wh -= c.estimated_wh
            if plugin is not None and plugin.id == c.plugin_id:
                plugin.energy_wh -= c.estimated_wh
            c.estimated_wh = 0.0
            c.flags.pop("energy_estimated", None)
            if c.energy_wh <= 1e-9:
                c.energy_wh, c.costs = 0.0, {}
            if not self._tentative(c.plugin_id):
                self.changes.cycles[c.id] = c
        if plugin is not None:
            plugin.flags.pop("energy_estimated", None)
            self._mark_plugin()
        self.estimated = []

    # ---- the books -----------------------------------------------------------------------------

    def _on_meter(self, t: int, value: float) -> None:
        """A reading of the lifetime meter, believed as the session counter is: a drop waits
        for the next reading (a rollback or a reset goes on from low, a stray value does not),
        and a rise faster than any charger is junk."""
        previous = self.meter
        if previous is None or not value < math.inf:
            if value < math.inf:
                self._meter_reading(t, value)
            return
        if self.meter_drop is None and value < previous:
            self.meter_drop = value
            return
        if self.meter_drop is not None:
            low, self.meter_drop = self.meter_drop, None
            if value < previous:
                self._meter_reading(t, low)
            else:
                self._meter_bad()
        assert self.meter is not None and self.meter_at is not None
        seconds = max((t - self.meter_at) / US, 5.0)
        if (value - self.meter) * 3600.0 / seconds > MAX_POWER_W:
            self._meter_bad()
            return
        self._meter_reading(t, value)

    def _meter_bad(self) -> None:
        if self._meter_is_counter():
            return  # the counter already counted it
        self._count_bad()

    def _meter_is_counter(self) -> bool:
        return self.counter_kind == "total_energy" or self._lifetime_counter()

    def _meter_reading(self, t: int, value: float) -> None:
        """A believed reading: its change since the last one goes to the books of the plug-in
        that took the energy (or of the quarter hour), explained where no counter saw it."""
        previous, previous_at = self.meter, self.meter_at
        counted, self.meter_counted = self.meter_counted, 0.0
        plugin = self._open_plugin()
        tail = plugin is None and self._just_unplugged(t)
        last = self.plugin
        if plugin is None and last is not None and (tail or self.meter_plugin == last.id):
            plugin = last  # the last readings of a session that just ended
        self.meter, self.meter_at, self.meter_plugin = value, t, None
        if previous is not None and value != previous:
            row = self._ledger_row(t, plugin)
            change = value - previous
            row.rise_wh += change
            if change < 0 and value <= RESET_EPS_WH:
                row.reset_wh += change
            elif change < 0:
                row.rollback_wh += change
                if plugin is not None:
                    plugin.meter_rollback_wh += change
            elif self._silence_since(previous_at) and change > counted:
                row.gap_wh += change - counted  # delivered while nothing was heard
            elif tail and change > counted and previous_at is not None:
                self._count_tail(change - counted, t - previous_at, t)
        if plugin is not None:
            if plugin.meter_start is None and plugin.energy_wh == 0:
                plugin.meter_start = value
            if plugin.meter_start is not None:
                plugin.meter_end = value
                self._check_meter(plugin)
            self._mark_plugin()

    def _just_unplugged(self, t: int) -> bool:
        """The car left while charging moments ago (its cycle ended `unplugged`), and that
        plug-in is still the machine's last."""
        plugin, cycle = self.plugin, self.cycle
        return (
            plugin is not None
            and plugin.closed
            and cycle is not None
            and cycle.plugin_id == plugin.id
            and cycle.end_reason == "unplugged"
            and cycle.ended_at is not None
            and t - cycle.ended_at <= UNPLUG_TAIL_US
        )

    def _count_tail(self, wh: float, micros: int, t: int) -> None:
        """The meter took energy in a session's last seconds that its counter never reported:
        the session's, when plausible."""
        cycle = self.cycle
        if cycle is None or self.counter_kind != "session_energy":
            return
        if wh * 3600.0 / max(micros / US, 5.0) <= MAX_POWER_W:
            self._add_energy(wh, cycle.counter_end or 0.0, t)
            self.meter_counted = 0.0

    def _check_meter(self, plugin: Plugin) -> None:
        """`meter_mismatch` (session minus meter, Wh) while the two disagree, gone once they
        agree again: readings of one set arrive a moment apart. A lifetime `wh` moves only at
        the unplug: no disagreement before it."""
        assert plugin.meter_start is not None and plugin.meter_end is not None
        if not plugin.closed and self._lifetime_counter():
            return
        metered = plugin.meter_end - plugin.meter_start - plugin.meter_rollback_wh
        difference = plugin.energy_wh - metered
        allowed = METER_RESOLUTION_WH + METER_TOLERANCE * max(plugin.energy_wh, metered)
        if abs(difference) > allowed:
            plugin.flags["meter_mismatch"] = round(difference)
        else:
            plugin.flags.pop("meter_mismatch", None)

    def _silence_since(self, at: int | None) -> bool:
        """Whether a silence began at or after `at` (the last one the machine saw)."""
        return at is not None and self.last_gap is not None and self.last_gap[0] >= at

    def _ledger_row(self, t: int, plugin: Plugin | None) -> LedgerRow:
        """The ledger row of a plug-in session, or of t's quarter hour, opened when missing;
        rows no reading can reach any more are let go (they are in `changes`)."""
        anchor = plugin.plugged_at if plugin is not None else t - t % LEDGER_STEP_US
        row = self.ledger.get(anchor)
        if row is None:
            keep = {t - t % LEDGER_STEP_US}
            if self.plugin is not None:
                keep.add(self.plugin.plugged_at)
            self.ledger = {a: r for a, r in self.ledger.items() if a in keep}
            row = self.ledger[anchor] = LedgerRow(id=self.seq, charger=self.name, anchor_at=anchor)
        self.changes.ledger[(row.id, row.anchor_at)] = row
        return row

    # ---- other readings ---------------------------------------------------------------------

    def _on_uptime(self, seq: int, t: int, uptime: float) -> None:
        if self.uptime is not None and uptime + 5 < self.uptime:
            self.dropped_from = (self.uptime, self.uptime_at or t)
            self._reboot(seq, t)
        elif self.dropped_from is not None and self.uptime is not None and uptime > self.uptime + 5:
            before, before_at = self.dropped_from
            if abs(uptime - (before + (t - before_at) / US)) <= TWO_DEVICES_SLACK_S:
                # The series from before the drop goes on: no reboot. Again and again, a second
                # device; once in a while, a stale value replayed (a capture tool reconnecting).
                last = self.interleaved_at
                streak = self.interleaved + 1 if last is not None and t - last <= STREAK_US else 1
                self.interleaved, self.interleaved_at = streak, t
                if streak >= TWO_DEVICES_STREAK:
                    self.two_devices += 1
                    self._flag_open("two_devices")
            self.dropped_from = None
        self.uptime, self.uptime_at = uptime, t

    # ---- helpers ------------------------------------------------------------------------------

    def _open_plugin(self) -> Plugin | None:
        """The plug-in session still running, if any (typed, unlike `_plugin_open`)."""
        plugin = self.plugin
        return plugin if plugin is not None and plugin.unplugged_at is None else None

    def _open_cycle(self) -> Cycle | None:
        """The cycle still running, if any."""
        cycle = self.cycle
        return cycle if cycle is not None and cycle.ended_at is None else None

    def _plugin_open(self) -> bool:
        return self._open_plugin() is not None

    def _cycle_open(self) -> bool:
        return self._open_cycle() is not None

    def _count_bad(self) -> None:
        self.bad_values += 1
        self._flag_open("bad_values")

    def _flag_open(self, name: str, amount: int = 1) -> None:
        if (plugin := self._open_plugin()) is not None:
            add_flag(plugin.flags, name, amount)
            self._mark_plugin()
        if (cycle := self._open_cycle()) is not None:
            add_flag(cycle.flags, name, amount)
            self._mark_cycle()

    def _mark_cycle(self) -> None:
        if self.cycle is not None and not self._tentative(self.cycle.plugin_id):
            self.changes.cycles[self.cycle.id] = self.cycle
            self._mark_plugin()

    def _mark_plugin(self) -> None:
        if self.plugin is not None and not self.plugin.tentative:
            self.changes.plugins[self.plugin.id] = self.plugin

    def _tentative(self, plugin_id: int) -> bool:
        plugin = self.plugin
        return plugin is not None and plugin.id == plugin_id and plugin.tentative

    # ---- checkpoint ---------------------------------------------------------------------------

    _SCALARS = (
        "state",
        "vehicle",
        "has_vehicle",
        "vehicle_stale",
        "uptime",
        "uptime_at",
        "dropped_from",
        "two_devices",
        "interleaved",
        "interleaved_at",
        "flip",
        "last_msg_at",
        "previous_at",
        "last_gap",
        "gap_pending",
        "rebooted_at",
        "counter_kind",
        "wh_scale",
        "counter_before_plugin",
        "counter",
        "counter_changed_at",
        "counter_plugin",
        "pending_drop",
        "pending_rise",
        "pending_sleep",
        "outside_wh",
        "bad_values",
        "meter",
        "meter_at",
        "meter_counted",
        "meter_plugin",
        "meter_drop",
        "replays",
        "amp_ma",
        "amp_at",
        "volts",
    )

    _TUPLES = frozenset(
        {"last_gap", "dropped_from", "pending_sleep", "pending_drop", "pending_rise", "flip"}
    )

    def to_state(self) -> dict[str, Any]:
        data: dict[str, Any] = {name: getattr(self, name) for name in self._SCALARS}
        data["plugin"] = to_state(self.plugin)
        data["cycle"] = to_state(self.cycle)
        data["prior"] = [to_state(self.prior[0]), to_state(self.prior[1])]
        data["ledger"] = [to_state(row) for _, row in sorted(self.ledger.items())]
        data["estimated"] = [to_state(c) for c in self.estimated]
        return data

    @classmethod
    def from_state(
        cls, name: str, data: dict[str, Any], changes: Changes, pricer: Pricer | None = None
    ) -> ChargerMachine:
        machine = cls(name, changes, pricer)
        for key in cls._SCALARS:
            value = data.get(key, getattr(machine, key))
            # JSON has no tuples: the pairs and triples come back as lists.
            setattr(
                machine, key, tuple(value) if key in cls._TUPLES and value is not None else value
            )
        machine.plugin = plugin_from_state(data["plugin"])
        machine.cycle = cycle_from_state(data["cycle"])
        prior = data.get("prior") or [None, None]
        machine.prior = (plugin_from_state(prior[0]), cycle_from_state(prior[1]))
        rows = (ledger_from_state(row) for row in data.get("ledger", ()))
        machine.ledger = {row.anchor_at: row for row in rows}
        machine.estimated = [c for c in map(cycle_from_state, data.get("estimated", ())) if c]
        return machine
