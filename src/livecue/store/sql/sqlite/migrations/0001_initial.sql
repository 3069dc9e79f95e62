-- livecue gateway schema, version 1 (SQLite). Invariants live here, not in Python.

CREATE TABLE IF NOT EXISTS cues (
    id               TEXT PRIMARY KEY,
    room             TEXT NOT NULL,
    transport        TEXT NOT NULL CHECK (transport IN ('rpc', 'data')),
    agent_name       TEXT,
    payload          TEXT NOT NULL,              -- the v1 envelope, as sent to the agent
    state            TEXT NOT NULL CHECK (state IN
                       ('queued', 'sending', 'delivered', 'held', 'retrying', 'expired', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  REAL NOT NULL,
    expires_at       REAL NOT NULL,
    outcome          TEXT,                       -- the agent's answer (applied, queued, ...)
    reason           TEXT,
    key_id           TEXT,                       -- API key that created it ('' for hooks/schedules)
    idempotency_key  TEXT,
    request_hash     TEXT,
    source           TEXT NOT NULL DEFAULT 'api',
    broadcast_id     TEXT,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL,
    delivered_at     REAL
);

-- the same key from the same caller is the same cue
CREATE UNIQUE INDEX IF NOT EXISTS cues_idempotency
    ON cues (key_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS cues_due ON cues (next_attempt_at)
    WHERE state IN ('queued', 'retrying');
CREATE INDEX IF NOT EXISTS cues_held ON cues (room) WHERE state = 'held';
-- the same states as the expire_due query, or SQLite cannot use it
DROP INDEX IF EXISTS cues_open_expiry;
CREATE INDEX IF NOT EXISTS cues_expiry ON cues (expires_at)
    WHERE state IN ('queued', 'retrying', 'held');
CREATE INDEX IF NOT EXISTS cues_room ON cues (room, created_at);
-- count_by_state runs every second: these two let it count from small indexes instead of
-- reading every row kept for the retention period (and purge_finished find old cues).
-- Partial, with the state lists of those queries, so no other query picks them instead of
-- the indexes above.
CREATE INDEX IF NOT EXISTS cues_finished ON cues (state, updated_at)
    WHERE state IN ('delivered', 'expired', 'failed');
CREATE INDEX IF NOT EXISTS cues_open ON cues (state)
    WHERE state IN ('queued', 'sending', 'held', 'retrying');

CREATE TABLE IF NOT EXISTS cue_events (
    cue_id  TEXT NOT NULL REFERENCES cues (id),
    at      REAL NOT NULL,
    state   TEXT NOT NULL,
    reason  TEXT
);
CREATE INDEX IF NOT EXISTS cue_events_cue ON cue_events (cue_id, at);

-- an inbound webhook delivery is turned into at most one cue
CREATE TABLE IF NOT EXISTS hook_deliveries (
    hook         TEXT NOT NULL,
    delivery_id  TEXT NOT NULL,
    cue_id       TEXT NOT NULL,
    received_at  REAL NOT NULL,
    PRIMARY KEY (hook, delivery_id)
);

-- the last tick each schedule fired for: a restart neither skips nor repeats one
CREATE TABLE IF NOT EXISTS schedule_ticks (
    schedule   TEXT PRIMARY KEY,
    last_tick  REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS api_keys (
    id           TEXT PRIMARY KEY,
    secret_hash  TEXT NOT NULL,
    scopes       TEXT NOT NULL,                  -- space-separated
    name         TEXT,
    created_at   REAL NOT NULL,
    revoked_at   REAL
);
