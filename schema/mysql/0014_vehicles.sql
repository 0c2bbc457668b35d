-- Vehicles (issue 13): who took a session's energy, for re-billing an employer, a tenant or a
-- partner. `name` is what the page and the commands show; `plate` and `note` are for the
-- accountant; `default_charger` makes the vehicle every session of that charger's unless a
-- correction or a tag says otherwise. A tag is an RFID card's UID as the charger publishes it
-- in `<base>/rfid_auth` (docs/openevse-mqtt.md), owned by one vehicle.
CREATE TABLE IF NOT EXISTS vehicle (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(64) NOT NULL,
    plate VARCHAR(32) NOT NULL DEFAULT '',
    note VARCHAR(255) NOT NULL DEFAULT '',
    default_charger VARCHAR(255) NULL,
    created_at DATETIME(6) NOT NULL,
    UNIQUE KEY vehicle_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS vehicle_rfid (
    tag VARCHAR(64) NOT NULL PRIMARY KEY,
    vehicle_id INT UNSIGNED NOT NULL,
    KEY vehicle_rfid_vehicle (vehicle_id),
    CONSTRAINT vehicle_rfid_vehicle_fk FOREIGN KEY (vehicle_id) REFERENCES vehicle (id)
        ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The projector's: the RFID tag heard during each plug-in session (rfid_auth), by its id.
CREATE TABLE IF NOT EXISTS session_rfid (
    plugin_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    tag VARCHAR(64) NOT NULL,
    KEY session_rfid_tag (tag)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
