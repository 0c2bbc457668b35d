-- The journal entries the projector reads (topics ending in one of projector/readings.py's
-- PROJECTED_KEYS: about a fifth of a 4.x/5.x charger's traffic), indexed by position: a replay
-- then reads just those rows instead of filtering every row, about twice as fast. A partial
-- index: the recorder's insert of any other topic does not touch it.
-- The condition must stay, term for term, the one journal/entries.py puts in the replay's query
-- (SQLite uses a partial index only for a query whose WHERE contains its WHERE);
-- tests/test_storage.py checks the query plan.
CREATE INDEX IF NOT EXISTS journal_projected ON journal (seq)
WHERE (topic LIKE '%/state' OR topic LIKE '%/vehicle' OR topic LIKE '%/session_energy'
       OR topic LIKE '%/total_energy' OR topic LIKE '%/wh' OR topic LIKE '%/uptime');
