-- The recorder's session at the broker (issue 9). A broker that restarts without having saved its
-- state (Mosquitto saves only every autosave_interval) comes back without our session and with
-- none of the messages it had queued for us: the recorder notices it at its next connect
-- ("session present" false for a client id that had one) and records the possible loss.
-- Written by the recorder, never derived: a rebuild leaves both tables alone.

-- Per client id, the last moment the recorder knew the broker held its session: the end of its
-- last connection, or its last heartbeat while connected (if it died without disconnecting).
CREATE TABLE IF NOT EXISTS broker_session (
    client_id VARCHAR(255) NOT NULL PRIMARY KEY,
    held_until DATETIME(6) NOT NULL  -- UTC
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Each session the broker lost: messages published for us from `since` until shortly after
-- `detected_at` (when the subscription was renewed) may be missing from the journal.
CREATE TABLE IF NOT EXISTS broker_session_lost (
    client_id VARCHAR(255) NOT NULL,
    since DATETIME(6) NOT NULL,  -- UTC: broker_session.held_until at the time
    detected_at DATETIME(6) NOT NULL,  -- UTC: the connect that found no session
    PRIMARY KEY (client_id, detected_at),
    KEY broker_session_lost_detected (detected_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
