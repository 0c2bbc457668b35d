-- Periods when the journal received nothing at all from any charger (the recorder, the broker or
-- the network was away), found by the projector while replaying: derived, rebuilt with the rest.
CREATE TABLE IF NOT EXISTS recorder_gap (
    started_at DATETIME(6) NOT NULL PRIMARY KEY,  -- the last message before the silence
    ended_at DATETIME(6) NOT NULL,  -- the first message after it
    seconds INT UNSIGNED NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
