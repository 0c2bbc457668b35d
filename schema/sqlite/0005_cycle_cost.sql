-- What each cycle cost, per tariff, band and price (see the MySQL file). Money as exact text.
CREATE TABLE IF NOT EXISTS cycle_cost (
    cycle_id INTEGER NOT NULL,
    tariff_id INTEGER NOT NULL,
    band TEXT NOT NULL,
    price TEXT NOT NULL,
    currency TEXT NOT NULL,
    wh REAL NOT NULL,
    cost TEXT NOT NULL,
    PRIMARY KEY (cycle_id, tariff_id, band, price)
);
