-- The sealed journal (issue 11). Closed stretches of the journal (whole UTC days at least
-- [journal] seal_after_days old, already passed by the projector) move here: one row per topic
-- group (a charger's base topic) per day, its messages in one compressed block
-- (journal/segment_codec.py). The rows are deleted from `journal` in the same transaction that
-- writes their segment, so every message is in exactly one of the two tables. Never updated.
CREATE TABLE IF NOT EXISTS journal_segment (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    -- the base topic the messages share (`openevse-ab12` for `openevse-ab12/state`)
    topic_group TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    -- the UTC day of their receive times
    day DATE NOT NULL,
    -- the range of journal positions and receive times the block holds (UTC, microseconds)
    first_seq BIGINT UNSIGNED NOT NULL,
    last_seq BIGINT UNSIGNED NOT NULL,
    first_at DATETIME(6) NOT NULL,
    last_at DATETIME(6) NOT NULL,
    message_count INT UNSIGNED NOT NULL,
    -- how many of them came from `chargelog import` (a re-import checks against these)
    imported_count INT UNSIGNED NOT NULL,
    -- the block format: 1 = columns compressed with xz (LZMA2)
    codec SMALLINT UNSIGNED NOT NULL,
    -- SHA-256 of the decoded block: a damaged segment is never read as data
    checksum BINARY(32) NOT NULL,
    block LONGBLOB NOT NULL,
    sealed_at DATETIME(6) NOT NULL,
    KEY journal_segment_last_seq (last_seq),
    KEY journal_segment_group_day (topic_group(191), day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per `chargelog seal` run that sealed something or found nothing due: the projector
-- service seals once a day and reads here when it last did (restarts included).
CREATE TABLE IF NOT EXISTS journal_seal_run (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    started_at DATETIME(6) NOT NULL,
    finished_at DATETIME(6) NOT NULL,
    segments INT UNSIGNED NOT NULL,
    messages BIGINT UNSIGNED NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
