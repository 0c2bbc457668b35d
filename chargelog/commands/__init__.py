"""The `chargelog` sub-commands, one module per family. Each module has `register(commands)`,
which adds its sub-parsers with `handler=` a function `(args, cfg) -> exit code`, and imports
what the handler needs inside the handler, so building the whole parser stays cheap.

journal: migrate, record, import      projection: project, projector, sessions
money: tariff, payment                legacy: import-legacy
vehicles: vehicle
simulate: simulate                    web: serve, passwd           demo: demo
"""
