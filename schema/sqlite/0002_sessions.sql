-- The projection: derived from the journal by `chargelog project`; a rebuild recreates it whole.

-- One row per charging cycle; the first seven columns keep the original logger's meanings
-- (see schema/mysql/0002_sessions.sql).
CREATE TABLE IF NOT EXISTS energySession (
    id INTEGER NOT NULL PRIMARY KEY,
    tstamp INTEGER NOT NULL,
    value INTEGER NOT NULL,
    sdur INTEGER NOT NULL,
    carid INTEGER NOT NULL DEFAULT 1,
    status INTEGER NULL DEFAULT 0,
    tarifid INTEGER DEFAULT 0,
    charger TEXT NOT NULL,
    plugin_id INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT NULL,
    energy_wh REAL NOT NULL,
    counter_start REAL NULL,
    counter_end REAL NULL,
    peak_power_w REAL NULL,
    end_reason TEXT NULL,
    flags TEXT NOT NULL DEFAULT '{}',
    projector_version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS energySession_plugin ON energySession (plugin_id);
CREATE INDEX IF NOT EXISTS energySession_started ON energySession (started_at);

CREATE TABLE IF NOT EXISTS plugin_session (
    id INTEGER NOT NULL PRIMARY KEY,
    charger TEXT NOT NULL,
    plugged_at TEXT NOT NULL,
    unplugged_at TEXT NULL,
    energy_wh REAL NOT NULL,
    charging_s INTEGER NOT NULL,
    cycle_count INTEGER NOT NULL,
    flags TEXT NOT NULL DEFAULT '{}',
    projector_version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS plugin_session_plugged ON plugin_session (plugged_at);
CREATE INDEX IF NOT EXISTS plugin_session_charger ON plugin_session (charger, plugged_at);

CREATE TABLE IF NOT EXISTS projection_checkpoint (
    name TEXT NOT NULL PRIMARY KEY,
    position INTEGER NOT NULL,
    machine_state TEXT NOT NULL,
    projector_version INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
