"""Realistic OpenEVSE MQTT traffic with its ground truth, for the demo, the tests and benchmarks.

Pure: no I/O, no clock, no global random state; the same spec always gives the same messages.
`simulate` plans every charger first (plug-ins, charges, faults: small, kept in memory as
`truth`), then `messages()` renders them lazily, so months of traffic stream in flat memory.

What the truth can say and the journal cannot:
- the real unplug time of a car that left while the charger was off ("stale_unplug"); the
  journal only bounds it by the last message before the power cut and the boot after it;
- the energy of a cycle cut by a power loss: 5.x rolls its counters back to the last flash save
  ("reboot"), 2.x/4.1 restart their session counter, so up to 5 minutes of charging (5.x) or the
  whole part before the cut (2.x/4.1 lifetime `wh`) is missing from the counters;
- what happened during a broker gap ("gap"): the car charged on, so the cycle did not end there;
- which values were stale: a "retained" replay says state 3 while nothing charges.

Faults: each requested plug-in fault (pause, fault, reboot, gap, stale_unplug, start_sleeping) is
put on every charger's first charging plug-in, so that it shows even in a short simulation
(that plug-in's departure is pushed back until its charge is over), then on each later charging
plug-in with a 12 % chance; "pause" also brings 3->255->3 (disabled). retained, duplicates and
junk decorate the stream: a replay when the recording starts and once while idle after the first
charge, about eight duplicated dumps a day, every junk payload once during the first charge and
about two more a day. `Simulation.injected` says where each one went.

Side effects that come with the faults, as on real hardware: a power loss ("reboot",
"stale_unplug") brings the broker's last will 90 s later, then at boot the announce `connected`
(4.1/5.x), state 0 and an uptime back near 0; after a "gap" a 4.1/5.x charger announces
`connected` again although it did not restart (its uptime goes on).

The simulated recorder's clock is exact: a state change is received at the event's true time;
the rest arrives as a real recorder sees it (simulator.render): bursts spread 150-900 us a
message, periodic ones a few ms late, to the microsecond. Values carry realistic noise
(simulator.sensors): a wandering voltage with two decimals, temperatures that drift and rise
while charging, `false` for absent sensors, and a few empty and binary payloads a day on topics
nothing projects. None of it touches the truth, which the plan alone decides.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter

from simulator.model import (
    END_REASONS,
    FAULTS,
    FIRMWARES,
    ChargerSpec,
    Injected,
    SimMessage,
    SimulationSpec,
    TrueCycle,
    TruePlugin,
    parse_faults,
    parse_list,
)
from simulator.plan import ChargerPlan, plan_charger
from simulator.render import Renderer, announce_topic

__all__ = [
    "END_REASONS",
    "FAULTS",
    "FIRMWARES",
    "ChargerSpec",
    "Injected",
    "SimMessage",
    "Simulation",
    "SimulationSpec",
    "TrueCycle",
    "TruePlugin",
    "announce_topic",
    "default_chargers",
    "parse_faults",
    "parse_list",
    "simulate",
]

LEGACY = ("2.x", "2.x-lifetime")


@dataclass
class Simulation:
    """A planned simulation: `truth` and `injected` at once, `messages()` on demand."""

    spec: SimulationSpec
    plans: list[ChargerPlan]
    renderers: list[Renderer]

    @property
    def truth(self) -> list[TruePlugin]:
        """Every plug-in of every charger, by plug-in time, with its cycles."""
        plugins = [p for plan in self.plans for p in plan.plugins]
        return sorted(plugins, key=lambda p: (p.plugged_at, p.charger))

    @property
    def injected(self) -> list[Injected]:
        """Where each requested fault was put, by time."""
        found = [i for plan in self.plans for i in plan.injected]
        found += [i for r in self.renderers for i in r.injected]
        return sorted(found, key=lambda i: (i.start, i.charger, i.fault))

    def messages(self) -> Iterator[SimMessage]:
        """Every message of every charger in non-decreasing time; a fresh, identical stream on
        each call."""
        return heapq.merge(*(r.messages() for r in self.renderers), key=attrgetter("ts"))

    def true_energy_wh(self) -> float:
        return sum(p.energy_wh for p in self.truth)

    def cycle_count(self) -> int:
        return sum(len(p.cycles) for p in self.truth)


def simulate(spec: SimulationSpec) -> Simulation:
    plans = [plan_charger(spec, charger, i) for i, charger in enumerate(spec.chargers)]
    return Simulation(spec, plans, [Renderer(plan, spec) for plan in plans])


def default_chargers(
    count: int, firmwares: Sequence[str], seed: int = 1, base: str = "openevse"
) -> tuple[ChargerSpec, ...]:
    """`count` chargers with the firmwares cycled; named as they come out of the box.

    2.x chargers are `<base>` (a second one `<base>2`, ...: two on one broker must have been
    renamed), 4.1/5.x ones `<base>-<4 hex>` (the hostname), which announce on
    `<base>/announce/<4 hex>`. A base such as `t1234/openevse` keeps every topic under `t1234/`.
    """
    if count < 1 or not firmwares:
        raise ValueError("need at least one charger and one firmware")
    rng = random.Random(f"names/{seed}/{base}")
    taken: set[str] = set()
    legacy = 0
    chargers = []
    for i in range(count):
        firmware = firmwares[i % len(firmwares)]
        if firmware in LEGACY:
            legacy += 1
            name = base if legacy == 1 else f"{base}{legacy}"
        else:
            name = f"{base}-{rng.getrandbits(16):04x}"
            while name in taken:
                name = f"{base}-{rng.getrandbits(16):04x}"
        taken.add(name)
        chargers.append(ChargerSpec(name, firmware))
    return tuple(chargers)
