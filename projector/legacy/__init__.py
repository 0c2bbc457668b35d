"""The original openevse-mqtt-mysql logger's data: read from its database (source), brought into
chargelog's in one transaction (importer), and kept as projection rows across rebuilds
(projection)."""
