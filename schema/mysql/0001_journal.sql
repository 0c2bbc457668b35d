-- The journal: every raw MQTT message exactly as received; never updated or deleted.
CREATE TABLE IF NOT EXISTS schema_version (
    version INT NOT NULL PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    applied_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS journal (
    -- the order of truth: one writer commits in arrival order
    seq BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    -- UTC receive time, microseconds: OpenEVSE sends no timestamp of its own
    received_at DATETIME(6) NOT NULL,
    -- TEXT holds 65535 bytes, the longest topic MQTT allows
    topic TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    -- the raw bytes, unchanged: empty, binary and large payloads included
    payload LONGBLOB NOT NULL,
    qos TINYINT UNSIGNED NOT NULL,
    retained TINYINT(1) NOT NULL,
    -- SHA-256 of an imported line (NULL for live messages): makes a re-import add nothing
    import_key BINARY(32) NULL,
    UNIQUE KEY journal_import_key (import_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
