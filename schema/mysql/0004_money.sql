-- Money: dated tariffs with time-of-use bands, and payments. Entered by people (`chargelog tariff`,
-- `chargelog payment`), never derived: a rebuild of the projection leaves these tables alone.
-- Prices are DECIMAL, never floating point; rounding happens once, at display.

-- A price per kWh from a local date on (inclusive, in the [site] timezone), for every charger
-- (charger NULL) or for one (its MQTT base topic). The newest valid_from applies; on the same or
-- an older date a charger's own tariff wins over an all-chargers one.
CREATE TABLE IF NOT EXISTS tariff (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    valid_from DATE NOT NULL,
    price_per_kwh DECIMAL(10,4) NOT NULL,  -- the base price, outside every band
    currency CHAR(3) NOT NULL DEFAULT 'EUR',
    charger VARCHAR(255) NULL,
    note VARCHAR(1000) NOT NULL DEFAULT '',
    created_at DATETIME(6) NOT NULL,  -- UTC
    KEY tariff_valid_from (valid_from)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- A time-of-use band of a tariff: on the days of `days` (7 characters, Monday first, '1' = on:
-- '1111100' = mon-fri), from start_time to end_time local time ('HH:MM'); an end before the start
-- wraps past midnight and the band belongs to the day it starts on; an end equal to the start is
-- the whole day.
CREATE TABLE IF NOT EXISTS tariff_band (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tariff_id INT UNSIGNED NOT NULL,
    days CHAR(7) NOT NULL,
    start_time CHAR(5) NOT NULL,
    end_time CHAR(5) NOT NULL,
    price_per_kwh DECIMAL(10,4) NOT NULL,
    KEY tariff_band_tariff (tariff_id),
    CONSTRAINT tariff_band_tariff_fk FOREIGN KEY (tariff_id) REFERENCES tariff (id)
        ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Money received (the original logger's `versement`): what was paid, on which day.
CREATE TABLE IF NOT EXISTS payment (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    paid_on DATE NOT NULL,
    amount DECIMAL(12,2) NOT NULL,
    currency CHAR(3) NOT NULL DEFAULT 'EUR',
    note VARCHAR(1000) NOT NULL DEFAULT '',
    created_at DATETIME(6) NOT NULL,  -- UTC
    KEY payment_paid_on (paid_on)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
