"""Noise that wanders instead of jumping: smooth pseudo-random functions of time.

Real readings (the grid voltage, an enclosure's temperature) drift slowly and are read by several
streams (the 1 s telemetry, the 30 s dump) at unrelated moments. A function of time gives every
stream the same underlying value with no shared state, so rendering stays lazy, deterministic and
identical on every call of `messages()`; a stateful random walk could not be read out of order.
"""

from __future__ import annotations

import math

_M64 = (1 << 64) - 1


def unit(k: int, salt: int) -> float:
    """A pseudo-random number in [-1, 1) fixed by (k, salt) (splitmix64's finaliser): cheap,
    stateless, and the same on every platform."""
    z = (k * 0x9E3779B97F4A7C15 + salt) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    z ^= z >> 31
    return z / 9223372036854775808.0 - 1.0


class Wander:
    """A random level every `period` seconds, eased from one to the next (value noise): within
    +-`amplitude`, continuous, and changing only on the scale of `period`."""

    __slots__ = ("_a", "_b", "_k", "amplitude", "period", "salt")

    def __init__(self, period: float, amplitude: float, salt: int) -> None:
        self.period = period
        self.amplitude = amplitude
        self.salt = salt
        self._k: int | None = None
        self._a = self._b = 0.0

    def __call__(self, t: float) -> float:
        x = t / self.period
        k = math.floor(x)
        if k != self._k:  # a cache of pure values: readers move forward, so it rarely misses
            self._k, self._a, self._b = k, unit(k, self.salt), unit(k + 1, self.salt)
        f = x - k
        f = f * f * (3.0 - 2.0 * f)
        return self.amplitude * (self._a + (self._b - self._a) * f)


class Drift:
    """Several `Wander`s added up: slow large swings with faster small ones on top."""

    __slots__ = ("parts",)

    def __init__(self, salt: int, octaves: tuple[tuple[float, float], ...]) -> None:
        self.parts = tuple(
            Wander(period, amplitude, (salt + 0x632BE59BD9B4E019 * i) & _M64)
            for i, (period, amplitude) in enumerate(octaves)
        )

    def __call__(self, t: float) -> float:
        return sum(part(t) for part in self.parts)
