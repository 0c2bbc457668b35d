-- What each plug-in session cost, per currency: the exact sum of its cycles' cycle_cost parts,
-- kept by the projector beside them (refreshed for every session a pass touches), so totals over
-- years of sessions are one indexed SUM, like their energy. Derived, rebuilt with the rest.
CREATE TABLE IF NOT EXISTS session_cost (
    plugin_id BIGINT UNSIGNED NOT NULL,  -- plugin_session.id
    currency CHAR(3) NOT NULL,
    cost DECIMAL(36,12) NOT NULL,  -- exact; rounded to cents only at display
    plugged_at DATETIME(6) NOT NULL,  -- the session's, for the page's ranges
    charger VARCHAR(255) NOT NULL,
    PRIMARY KEY (plugin_id, currency),
    KEY session_cost_plugged (plugged_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- The sessions priced before this step.
INSERT IGNORE INTO session_cost (plugin_id, currency, cost, plugged_at, charger)
SELECT e.plugin_id, c.currency, SUM(c.cost), p.plugged_at, p.charger
FROM cycle_cost c
JOIN energySession e ON e.id = c.cycle_id
JOIN plugin_session p ON p.id = e.plugin_id
WHERE c.tariff_id <> 0 AND c.currency <> ''
GROUP BY e.plugin_id, c.currency, p.plugged_at, p.charger;
