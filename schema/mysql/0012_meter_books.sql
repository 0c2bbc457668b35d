-- The books against the charger's own meter (`total_energy`): derived by the projector from the
-- journal like the sessions, rebuilt with them.

-- Per plug-in session: the lifetime meter at plug-in and at its last reading in the session (Wh),
-- and how far it went back meanwhile (a counter rollback, negative).
CREATE TABLE IF NOT EXISTS session_meter (
    plugin_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    meter_start_wh DOUBLE NOT NULL,
    meter_end_wh DOUBLE NOT NULL,
    rollback_wh DOUBLE NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- What the meter did per stretch: a plug-in session's (anchor_at = its plug-in) or a quarter
-- hour's outside sessions. rise_wh is the net change; gap_wh rose across a silence with no
-- counter seeing it, rollback_wh and reset_wh (negative) went back, outside_wh was counted
-- outside every session. A month's books close when its rises equal its sessions' energy plus
-- these.
CREATE TABLE IF NOT EXISTS meter_ledger (
    id BIGINT UNSIGNED NOT NULL,  -- journal seq of the reading that opened the row
    anchor_at DATETIME(6) NOT NULL,
    charger VARCHAR(255) NOT NULL,
    rise_wh DOUBLE NOT NULL,
    gap_wh DOUBLE NOT NULL,
    rollback_wh DOUBLE NOT NULL,
    reset_wh DOUBLE NOT NULL,
    outside_wh DOUBLE NOT NULL,
    PRIMARY KEY (id, anchor_at),
    KEY meter_ledger_anchor (anchor_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
