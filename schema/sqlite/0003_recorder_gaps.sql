-- Periods when the journal received nothing at all from any charger (see the MySQL file).
CREATE TABLE IF NOT EXISTS recorder_gap (
    started_at TEXT NOT NULL PRIMARY KEY,
    ended_at TEXT NOT NULL,
    seconds INTEGER NOT NULL
);
