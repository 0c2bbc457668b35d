"""What a charger's meters read: the grid voltage, the enclosure temperature, the Wi-Fi signal
and the free heap, with the slow wandering of real readings rather than fresh noise each time.

Voltage and temperature are functions of time (simulator.noise), so the 1 s telemetry and the
30 s dump agree with each other however they interleave. The signal and the heap are only in the
dump, so they are random walks stepped once per dump (`Vitals`, one per stream).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right

from simulator.noise import Drift
from simulator.plan import DAY, HOUR, MINUTE, ChargerPlan

SAG_OHM = 0.045  # the supply's resistance: the voltage drops ~1.3 V at 30 A
TYPICAL_AMPS = 27.0  # the planned (constant) voltage is the one under a typical charge
READ_NOISE_V = 0.06  # the meter's own jitter, peak to peak
HEAT_TAU = 25 * MINUTE  # how fast the enclosure warms while charging...
COOL_TAU = 40 * MINUTE  # ...and cools down afterwards
WARMEST = 15 * HOUR  # the daily temperature swing peaks mid-afternoon (UTC: no site zone here)


class Sensors:
    """One charger's meters, fixed by its plan and seed; pure functions of time."""

    def __init__(self, plan: ChargerPlan, seed: str) -> None:
        rng = random.Random(f"sensors/{seed}")
        self.v_idle = plan.volts + SAG_OHM * TYPICAL_AMPS
        self.v_drift = Drift(rng.getrandbits(64), ((HOUR, 1.6), (5 * MINUTE, 0.5), (25.0, 0.15)))
        self.c_base = rng.uniform(20.0, 30.0)  # the enclosure is warmer than the air around it
        self.c_swing = rng.uniform(1.0, 3.0)
        self.c_drift = Drift(rng.getrandbits(64), ((3 * HOUR, 1.5), (20 * MINUTE, 0.5)))
        self.c_rise = rng.uniform(6.0, 12.0)  # after a long charge at full power
        self.rtc_offset = rng.uniform(-1.5, 1.0)  # a second sensor, elsewhere on the board
        self.rssi_mean = rng.uniform(-74.0, -56.0)
        self.ram_mean = rng.uniform(95_000.0, 150_000.0)
        runs = [(plan.phases[a].start, plan.phases[b].end) for a, b in plan.charging_runs()]
        self.runs = runs
        self.run_starts = [begin for begin, _ in runs]

    def volts(self, t: float, ma: int, u: float) -> float:
        """The voltage read at `t` while `ma` milliamps flow; `u` in [0, 1) is the meter's jitter
        (drawn by the caller's stream)."""
        v = self.v_idle + self.v_drift(t) - SAG_OHM * ma / 1000.0
        return v + (u - 0.5) * READ_NOISE_V

    def celsius(self, t: float) -> float:
        """The enclosure's temperature: a daily swing, a slow drift, and the charger's own heat
        (rising while it charges, decaying after)."""
        day = math.cos(2.0 * math.pi * ((t - WARMEST) % DAY) / DAY)
        heat = 0.0
        k = bisect_right(self.run_starts, t) - 1
        if k >= 0:
            begin, stop = self.runs[k]
            heat = 1.0 - math.exp(-(min(t, stop) - begin) / HEAT_TAU)
            if t > stop:
                heat *= math.exp(-(t - stop) / COOL_TAU)
        return self.c_base + self.c_swing * day + self.c_drift(t) + self.c_rise * heat

    def vitals(self, rng: random.Random) -> Vitals:
        return Vitals(self.rssi_mean, self.ram_mean, rng)


class Vitals:
    """`srssi` (dBm) and `freeram` (bytes) as mean-reverting random walks, one step per dump."""

    def __init__(self, rssi_mean: float, ram_mean: float, rng: random.Random) -> None:
        self.rssi_mean, self.ram_mean, self.rng = rssi_mean, ram_mean, rng
        self.rssi = self.ram = 0.0

    def step(self) -> tuple[int, int]:
        gauss = self.rng.gauss
        self.rssi = 0.93 * self.rssi + gauss(0.0, 0.8)
        self.ram = 0.97 * self.ram + gauss(0.0, 900.0)
        return round(self.rssi_mean + self.rssi), int(self.ram_mean + self.ram) & ~3
