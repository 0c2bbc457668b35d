-- Writers take journal positions from this one-row counter, inside their own transaction (see
-- the MariaDB step for why). SQLite already lets one writer at a time hold its write lock; the
-- counter keeps one allocation rule for both databases.
CREATE TABLE IF NOT EXISTS journal_head (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    last_seq INTEGER NOT NULL  -- the highest position handed out
);

-- Start after every position already used (AUTOINCREMENT's own record, which also remembers
-- deleted rows, and the projector's checkpoints). Running the step again only raises it.
INSERT INTO journal_head (id, last_seq)
SELECT 1, MAX(
    COALESCE((SELECT MAX(seq) FROM journal), 0),
    COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'journal'), 0),
    COALESCE((SELECT MAX(position) FROM projection_checkpoint), 0))
WHERE true
ON CONFLICT (id) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq);
