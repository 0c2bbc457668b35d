-- What each plug-in session cost, per currency (see the MySQL file). The cost is exact text, summed
-- by chargelog's exact_sum aggregate (SQLite's SUM() would go through a float).
CREATE TABLE IF NOT EXISTS session_cost (
    plugin_id INTEGER NOT NULL,
    currency TEXT NOT NULL,
    cost TEXT NOT NULL,
    plugged_at TEXT NOT NULL,
    charger TEXT NOT NULL,
    PRIMARY KEY (plugin_id, currency)
);
CREATE INDEX IF NOT EXISTS session_cost_plugged ON session_cost (plugged_at);

INSERT OR IGNORE INTO session_cost (plugin_id, currency, cost, plugged_at, charger)
SELECT e.plugin_id, c.currency, exact_sum(c.cost), p.plugged_at, p.charger
FROM cycle_cost c
JOIN energySession e ON e.id = c.cycle_id
JOIN plugin_session p ON p.id = e.plugin_id
WHERE c.tariff_id <> 0 AND c.currency <> ''
GROUP BY e.plugin_id, c.currency, p.plugged_at, p.charger;
