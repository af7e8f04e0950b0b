-- outbox-schema.sql - the outbox table, schema version 1 (outbox(5)).
-- For an application that creates the outbox with its own migrations;
-- the tools create the same thing themselves on first use.
BEGIN IMMEDIATE;
CREATE TABLE "outbox" (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  source TEXT NOT NULL,
  type TEXT NOT NULL,
  subject TEXT,
  partition_key TEXT,
  event TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status = 'pending' OR status = 'sent' OR status = 'dead'),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT,
  last_error TEXT,
  sent_at TEXT,
  topic TEXT,
  kafka_partition INTEGER,
  kafka_offset INTEGER,
  UNIQUE (source, id)
);
CREATE INDEX "outbox_pending" ON "outbox"(seq) WHERE status = 'pending';
PRAGMA user_version = 1;
COMMIT;
PRAGMA journal_mode = WAL;
