"""The journal: every raw MQTT message, stored unchanged; the only source of truth."""
