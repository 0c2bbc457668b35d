-- What `chargelog import-legacy` brought in from the original openevse-mqtt-mysql logger. Not
-- derived: there is no raw journal for these sessions, so they are kept here as the original had
-- them and the projection materializes them (at import, and on every rebuild, into energySession,
-- plugin_session and cycle_cost with ids 10^15 + id, never a journal position).

-- One row per row of the original `energySession` (the original's columns, as they were).
CREATE TABLE IF NOT EXISTS legacy_session (
    id BIGINT UNSIGNED NOT NULL PRIMARY KEY,  -- the original id (another one if a second source had it)
    legacy_id INT UNSIGNED NOT NULL,  -- energySession.id in the original database
    tstamp INT UNSIGNED NOT NULL,  -- end, Unix seconds
    value INT UNSIGNED NULL,  -- energy, watt-seconds
    sdur INT UNSIGNED NULL,  -- seconds
    carid TINYINT UNSIGNED NULL,
    status TINYINT NULL,
    tarifid INT NULL,  -- the original `tarif` id (0 = none)
    tariff_id INT NULL,  -- the chargelog tariff imported from that `tarif` row (NULL = none)
    charger VARCHAR(255) NOT NULL,
    source VARCHAR(500) NOT NULL,  -- mysql://user@host:port/db, never the password
    import_key VARCHAR(191) NOT NULL,  -- 'energySession:<id>:<tstamp>': a second import skips it
    imported_at DATETIME(6) NOT NULL,  -- UTC
    UNIQUE KEY legacy_session_import_key (import_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Which tariff or payment each original `tarif` or `versement` row became, so a second import
-- adds nothing (and a tariff or payment removed since is not brought back).
CREATE TABLE IF NOT EXISTS legacy_import (
    import_key VARCHAR(191) NOT NULL PRIMARY KEY,  -- 'tarif:<id>:<dateA>', 'versement:<id>:<dateV>'
    kind VARCHAR(16) NOT NULL,  -- 'tarif' -> tariff, 'versement' -> payment
    legacy_id INT UNSIGNED NOT NULL,
    target_id INT UNSIGNED NOT NULL,  -- tariff.id or payment.id
    source VARCHAR(500) NOT NULL,
    imported_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
