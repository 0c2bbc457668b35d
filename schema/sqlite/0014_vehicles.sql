-- Vehicles (issue 13): who took a session's energy, for re-billing an employer, a tenant or a
-- partner. `name` is what the page and the commands show; `plate` and `note` are for the
-- accountant; `default_charger` makes the vehicle every session of that charger's unless a
-- correction or a tag says otherwise. A tag is an RFID card's UID as the charger publishes it
-- in `<base>/rfid_auth` (docs/openevse-mqtt.md), owned by one vehicle.
CREATE TABLE IF NOT EXISTS vehicle (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    plate TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    default_charger TEXT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS vehicle_rfid (
    tag TEXT NOT NULL PRIMARY KEY,
    vehicle_id INTEGER NOT NULL REFERENCES vehicle (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS vehicle_rfid_vehicle ON vehicle_rfid (vehicle_id);

-- The projector's: the RFID tag heard during each plug-in session (rfid_auth), by its id.
CREATE TABLE IF NOT EXISTS session_rfid (
    plugin_id INTEGER NOT NULL PRIMARY KEY,
    tag TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS session_rfid_tag ON session_rfid (tag);
