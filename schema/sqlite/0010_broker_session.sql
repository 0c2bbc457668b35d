-- The recorder's session at the broker and the sessions the broker lost (see the MySQL file).
CREATE TABLE IF NOT EXISTS broker_session (
    client_id TEXT NOT NULL PRIMARY KEY,
    held_until TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS broker_session_lost (
    client_id TEXT NOT NULL,
    since TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    PRIMARY KEY (client_id, detected_at)
);
CREATE INDEX IF NOT EXISTS broker_session_lost_detected ON broker_session_lost (detected_at);
