-- What each cycle cost, per tariff, band and price: written by the projector, which prices every
-- energy increment with the tariffs in force when it was delivered. Derived, rebuilt with the rest.
CREATE TABLE IF NOT EXISTS cycle_cost (
    cycle_id BIGINT UNSIGNED NOT NULL,  -- energySession.id
    tariff_id INT NOT NULL,
    band VARCHAR(64) NOT NULL,  -- '' for the base price, else the band as `--band` takes it
    price DECIMAL(10,4) NOT NULL,
    currency CHAR(3) NOT NULL,
    wh DOUBLE NOT NULL,
    cost DECIMAL(24,12) NOT NULL,  -- exact; rounded to cents only at display
    PRIMARY KEY (cycle_id, tariff_id, band, price)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
