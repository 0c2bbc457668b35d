-- The journal: every raw MQTT message exactly as received; never updated or deleted.
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS journal (
    -- the order of truth; AUTOINCREMENT never reuses a number
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    -- UTC receive time as 'YYYY-MM-DD HH:MM:SS.ffffff' (sorts like the time it is)
    received_at TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retained INTEGER NOT NULL,
    -- SHA-256 of an imported line (NULL for live messages): makes a re-import add nothing
    import_key BLOB NULL UNIQUE
);
