-- The replay now also reads `amp`, `voltage` and `volt`, and `rfid_auth` (the tag that
-- authorised a session) (projector/readings.py REPLAYED_KEYS):
-- chargers whose counter does not move while charging (2.7.6 to 4.1.0) have their energy
-- integrated from them, and the replay skips them by exact topic for every other charger.
-- journal_projected (step 0007) no longer matches the replay's condition; this one does, term
-- for term (tests/test_storage.py checks the query plan).
DROP INDEX IF EXISTS journal_projected;
CREATE INDEX IF NOT EXISTS journal_replayed ON journal (seq)
WHERE (topic LIKE '%/state' OR topic LIKE '%/vehicle' OR topic LIKE '%/session_energy'
       OR topic LIKE '%/total_energy' OR topic LIKE '%/wh' OR topic LIKE '%/uptime'
       OR topic LIKE '%/amp' OR topic LIKE '%/voltage' OR topic LIKE '%/volt'
       OR topic LIKE '%/rfid_auth');
