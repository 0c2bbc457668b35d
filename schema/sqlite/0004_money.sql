-- Money: tariffs with time-of-use bands, and payments (see the MySQL file for the meanings).
-- SQLite has no exact DECIMAL type: prices and amounts are stored as TEXT ('0.1850') and read
-- back into decimal.Decimal, never through a float. Dates are 'YYYY-MM-DD' text.
-- AUTOINCREMENT: a removed tariff's id is never given to another (history may name it).
CREATE TABLE IF NOT EXISTS tariff (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    valid_from TEXT NOT NULL,
    price_per_kwh TEXT NOT NULL,
    currency TEXT NOT NULL DEFAULT 'EUR',
    charger TEXT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tariff_valid_from ON tariff (valid_from);

CREATE TABLE IF NOT EXISTS tariff_band (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    tariff_id INTEGER NOT NULL REFERENCES tariff (id) ON DELETE CASCADE,
    days TEXT NOT NULL,
    start_time TEXT NOT NULL,
    end_time TEXT NOT NULL,
    price_per_kwh TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tariff_band_tariff ON tariff_band (tariff_id);

CREATE TABLE IF NOT EXISTS payment (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    paid_on TEXT NOT NULL,
    amount TEXT NOT NULL,
    currency TEXT NOT NULL DEFAULT 'EUR',
    note TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payment_paid_on ON payment (paid_on);
