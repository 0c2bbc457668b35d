-- Writers take journal positions from this one-row counter, inside their own transaction: the
-- UPDATE keeps the row locked until the writer commits, so writers commit one after another, in
-- seq order. A reader's snapshot then always holds a prefix of the journal, and the projector's
-- `seq > checkpoint` never steps past a row that commits later (AUTO_INCREMENT hands out numbers
-- at insert, not at commit: overlapping writers made incremental passes skip rows for good).
CREATE TABLE IF NOT EXISTS journal_head (
    id TINYINT UNSIGNED NOT NULL PRIMARY KEY CHECK (id = 1),
    last_seq BIGINT UNSIGNED NOT NULL  -- the highest position handed out
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Every writer now gives seq explicitly. Without AUTO_INCREMENT, a writer that still relies on
-- it (an older chargelog left running across the upgrade) fails loudly ("Field 'seq' doesn't have
-- a default value") instead of taking numbers the counter will hand out again. Done before the
-- counter is filled: this waits for such a writer's open transaction, and later ones fail.
-- MariaDB changes only metadata here (instant), however long the journal.
ALTER TABLE journal MODIFY seq BIGINT UNSIGNED NOT NULL;

-- Start after every position already used, the projector's checkpoints included. Running the
-- step again only ever raises the counter.
INSERT INTO journal_head (id, last_seq)
SELECT 1, GREATEST(
    COALESCE((SELECT MAX(seq) FROM journal), 0),
    COALESCE((SELECT MAX(position) FROM projection_checkpoint), 0))
ON DUPLICATE KEY UPDATE last_seq = GREATEST(last_seq, VALUES(last_seq));
