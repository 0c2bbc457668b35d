-- What `chargelog import-legacy` brought in from the original logger (see the MySQL file).
CREATE TABLE IF NOT EXISTS legacy_session (
    id INTEGER NOT NULL PRIMARY KEY,
    legacy_id INTEGER NOT NULL,
    tstamp INTEGER NOT NULL,
    value INTEGER NULL,
    sdur INTEGER NULL,
    carid INTEGER NULL,
    status INTEGER NULL,
    tarifid INTEGER NULL,
    tariff_id INTEGER NULL,
    charger TEXT NOT NULL,
    source TEXT NOT NULL,
    import_key TEXT NOT NULL,
    imported_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS legacy_session_import_key ON legacy_session (import_key);

CREATE TABLE IF NOT EXISTS legacy_import (
    import_key TEXT NOT NULL PRIMARY KEY,
    kind TEXT NOT NULL,
    legacy_id INTEGER NOT NULL,
    target_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    imported_at TEXT NOT NULL
);
