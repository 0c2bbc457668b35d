-- The sealed journal (see the MySQL file): closed days of the journal, compressed, byte-exact.
CREATE TABLE IF NOT EXISTS journal_segment (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic_group TEXT NOT NULL,
    day TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    first_at TEXT NOT NULL,
    last_at TEXT NOT NULL,
    message_count INTEGER NOT NULL,
    imported_count INTEGER NOT NULL,
    codec INTEGER NOT NULL,
    checksum BLOB NOT NULL,
    block BLOB NOT NULL,
    sealed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS journal_segment_last_seq ON journal_segment (last_seq);
CREATE INDEX IF NOT EXISTS journal_segment_group_day ON journal_segment (topic_group, day);

CREATE TABLE IF NOT EXISTS journal_seal_run (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    segments INTEGER NOT NULL,
    messages INTEGER NOT NULL
);
