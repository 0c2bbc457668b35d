-- The books against the charger's own meter (see the MySQL file).
CREATE TABLE IF NOT EXISTS session_meter (
    plugin_id INTEGER NOT NULL PRIMARY KEY,
    meter_start_wh REAL NOT NULL,
    meter_end_wh REAL NOT NULL,
    rollback_wh REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS meter_ledger (
    id INTEGER NOT NULL,
    anchor_at TEXT NOT NULL,
    charger TEXT NOT NULL,
    rise_wh REAL NOT NULL,
    gap_wh REAL NOT NULL,
    rollback_wh REAL NOT NULL,
    reset_wh REAL NOT NULL,
    outside_wh REAL NOT NULL,
    PRIMARY KEY (id, anchor_at)
);
CREATE INDEX IF NOT EXISTS meter_ledger_anchor ON meter_ledger (anchor_at);
