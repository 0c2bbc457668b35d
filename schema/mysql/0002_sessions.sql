-- The projection: derived from the journal by `chargelog project`; a rebuild recreates it whole.

-- One row per charging cycle. The first seven columns keep the original logger's meanings, so
-- its users' queries and page keep working: tstamp = end (Unix s; while charging, the last moment
-- seen charging), value = energy in watt-seconds, sdur = seconds, carid = 1, status 0 = ended
-- (1 = still charging), tarifid = the tariff that priced it (0 = none).
CREATE TABLE IF NOT EXISTS energySession (
    id BIGINT UNSIGNED NOT NULL PRIMARY KEY,  -- journal seq of the message that started the cycle
    tstamp INT UNSIGNED NOT NULL,
    value BIGINT UNSIGNED NOT NULL,
    sdur INT UNSIGNED NOT NULL,
    carid TINYINT UNSIGNED NOT NULL DEFAULT 1,
    status TINYINT NULL DEFAULT 0,
    tarifid INT DEFAULT 0,
    charger VARCHAR(255) NOT NULL,
    plugin_id BIGINT UNSIGNED NOT NULL,  -- the plugin_session it belongs to
    started_at DATETIME(6) NOT NULL,
    ended_at DATETIME(6) NULL,
    energy_wh DOUBLE NOT NULL,
    counter_start DOUBLE NULL,
    counter_end DOUBLE NULL,
    peak_power_w DOUBLE NULL,
    end_reason VARCHAR(16) NULL,  -- stopped, unplugged, paused, disabled, fault, reboot, gap
    flags VARCHAR(2000) NOT NULL DEFAULT '{}',  -- JSON object: flag -> count or seconds
    projector_version INT NOT NULL,
    KEY energySession_plugin (plugin_id),
    KEY energySession_started (started_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per plug-in: from the car connected to its disconnection, with its totals.
CREATE TABLE IF NOT EXISTS plugin_session (
    id BIGINT UNSIGNED NOT NULL PRIMARY KEY,  -- journal seq of the message that showed the car
    charger VARCHAR(255) NOT NULL,
    plugged_at DATETIME(6) NOT NULL,
    unplugged_at DATETIME(6) NULL,  -- NULL while plugged
    energy_wh DOUBLE NOT NULL,
    charging_s INT UNSIGNED NOT NULL,
    cycle_count INT UNSIGNED NOT NULL,
    flags VARCHAR(2000) NOT NULL DEFAULT '{}',
    projector_version INT NOT NULL,
    KEY plugin_session_plugged (plugged_at),
    KEY plugin_session_charger (charger, plugged_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Where the projection stands: the journal position reached and every charger's machine state,
-- written in the same transaction as the rows they produced.
CREATE TABLE IF NOT EXISTS projection_checkpoint (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    position BIGINT UNSIGNED NOT NULL,
    machine_state LONGTEXT NOT NULL,
    projector_version INT NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
