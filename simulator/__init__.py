"""The chargers' side: realistic OpenEVSE MQTT traffic of every firmware generation, with faults
and its ground truth, for `chargelog simulate`, the demo, the tests and the benches. Nothing here
reads the journal or imports the projector: it plays the chargers, the projector must decode them.

model (what to simulate, what it emits, what really happened) -> plan (when cars come and go,
what each charge does physically) -> sensors and noise (what its meters read: wandering, not
white noise) -> render (the messages each firmware publishes, as received) -> traffic
(a whole simulation, lazily merged in time order) -> outputs (import lines, broker, truth JSON).
"""
