-- Version 2: a cue at the agent is not final. The agent holding it, its latest outcome and
-- its receipt (what was said, when) are kept; history entries carry the outcome too.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt.

CREATE TABLE cues_v2 (
    id               TEXT PRIMARY KEY,
    room             TEXT NOT NULL,
    transport        TEXT NOT NULL CHECK (transport IN ('rpc', 'data')),
    agent_name       TEXT,
    payload          TEXT NOT NULL,              -- the v1 envelope, unsigned (signed when sent)
    state            TEXT NOT NULL CHECK (state IN
                       ('queued', 'sending', 'held', 'retrying', 'at_agent',
                        'delivered', 'expired', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  REAL NOT NULL,
    expires_at       REAL NOT NULL,
    agent_identity   TEXT,                       -- the agent that has (or had) it
    outcome          TEXT,                       -- the agent's latest outcome (queued, applied, ...)
    receipt          TEXT,                       -- that outcome as JSON: said, speech times, merged_into
    reason           TEXT,
    key_id           TEXT,                       -- API key that created it ('' for hooks/schedules)
    idempotency_key  TEXT,
    request_hash     TEXT,
    source           TEXT NOT NULL DEFAULT 'api',
    broadcast_id     TEXT,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL,
    delivered_at     REAL,                       -- when an agent first had it
    CHECK (state <> 'at_agent' OR agent_identity IS NOT NULL)
);

INSERT INTO cues_v2 (id, room, transport, agent_name, payload, state, attempts, next_attempt_at,
                     expires_at, outcome, reason, key_id, idempotency_key, request_hash, source,
                     broadcast_id, created_at, updated_at, delivered_at)
SELECT id, room, transport, agent_name, payload, state, attempts, next_attempt_at,
       expires_at, outcome, reason, key_id, idempotency_key, request_hash, source,
       broadcast_id, created_at, updated_at, delivered_at
FROM cues;

DROP TABLE cues;
ALTER TABLE cues_v2 RENAME TO cues;

CREATE UNIQUE INDEX cues_idempotency ON cues (key_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX cues_due ON cues (next_attempt_at) WHERE state IN ('queued', 'retrying');
CREATE INDEX cues_held ON cues (room) WHERE state = 'held';
CREATE INDEX cues_at_agent ON cues (room, agent_identity) WHERE state = 'at_agent';
-- the same states as the expire_due query, or SQLite cannot use it
CREATE INDEX cues_expiry ON cues (expires_at) WHERE state IN ('queued', 'retrying', 'held');
CREATE INDEX cues_room ON cues (room, created_at);
-- count_by_state runs every second: these two let it count from small indexes instead of
-- reading every row kept for the retention period (and purge_finished find old cues).
CREATE INDEX cues_finished ON cues (state, updated_at)
    WHERE state IN ('delivered', 'expired', 'failed');
CREATE INDEX cues_open ON cues (state)
    WHERE state IN ('queued', 'sending', 'held', 'retrying', 'at_agent');

ALTER TABLE cue_events ADD COLUMN outcome TEXT;
