-- Version 4: what operators and integrators need. A cue can be cancelled before it reaches an
-- agent, resent (the new cue names the original), and name a callback URL for its final
-- outcome; callbacks and every attempt at them are kept; every hook delivery is logged with
-- the verdict; a key can carry a callback URL.

CREATE TABLE cues_v4 (
    id               TEXT PRIMARY KEY,
    room             TEXT NOT NULL,
    transport        TEXT NOT NULL CHECK (transport IN ('rpc', 'data')),
    agent_name       TEXT,
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN
                       ('queued', 'sending', 'held', 'retrying', 'at_agent',
                        'delivered', 'expired', 'failed', 'cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  REAL NOT NULL,
    expires_at       REAL NOT NULL,
    owner            TEXT,
    agent_identity   TEXT,
    outcome          TEXT,
    receipt          TEXT,
    reason           TEXT,
    key_id           TEXT,
    idempotency_key  TEXT,
    request_hash     TEXT,
    source           TEXT NOT NULL DEFAULT 'api',
    broadcast_id     TEXT,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL,
    delivered_at     REAL,
    callback_url     TEXT,                       -- where its final outcome is POSTed
    resent_from      TEXT,                       -- the cue this one resends
    CHECK (state <> 'at_agent' OR agent_identity IS NOT NULL)
);

INSERT INTO cues_v4 (id, room, transport, agent_name, payload, state, attempts, next_attempt_at,
                     expires_at, owner, agent_identity, outcome, receipt, reason, key_id,
                     idempotency_key, request_hash, source, broadcast_id, created_at, updated_at,
                     delivered_at)
SELECT id, room, transport, agent_name, payload, state, attempts, next_attempt_at,
       expires_at, owner, agent_identity, outcome, receipt, reason, key_id,
       idempotency_key, request_hash, source, broadcast_id, created_at, updated_at,
       delivered_at
FROM cues;

DROP TABLE cues;
ALTER TABLE cues_v4 RENAME TO cues;

CREATE UNIQUE INDEX cues_idempotency ON cues (key_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX cues_due ON cues (next_attempt_at) WHERE state IN ('queued', 'retrying');
CREATE INDEX cues_held ON cues (room) WHERE state = 'held';
CREATE INDEX cues_at_agent ON cues (room, agent_identity) WHERE state = 'at_agent';
CREATE INDEX cues_sending ON cues (owner) WHERE state = 'sending';
CREATE INDEX cues_expiry ON cues (expires_at) WHERE state IN ('queued', 'retrying', 'held');
CREATE INDEX cues_room ON cues (room, created_at);
CREATE INDEX cues_created ON cues (created_at, id);
CREATE INDEX cues_updated ON cues (updated_at);
CREATE INDEX cues_finished ON cues (state, updated_at)
    WHERE state IN ('delivered', 'expired', 'failed', 'cancelled');
CREATE INDEX cues_open ON cues (state)
    WHERE state IN ('queued', 'sending', 'held', 'retrying', 'at_agent');

-- a cue's final outcome, POSTed (signed) to its callback URL: one per cue, retried
CREATE TABLE callbacks (
    id               TEXT PRIMARY KEY,           -- the webhook-id, the same on every attempt
    cue_id           TEXT NOT NULL UNIQUE REFERENCES cues (id) ON DELETE CASCADE,
    url              TEXT NOT NULL,
    event            TEXT NOT NULL,              -- cue.applied, cue.expired, ...
    state            TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  REAL NOT NULL,
    owner            TEXT,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE state = 'pending';
CREATE INDEX callbacks_sending ON callbacks (owner) WHERE state = 'sending';

CREATE TABLE callback_attempts (
    callback_id  TEXT NOT NULL REFERENCES callbacks (id) ON DELETE CASCADE,
    at           REAL NOT NULL,
    status       INTEGER,                        -- the receiver's HTTP status, if it answered
    duration_ms  REAL NOT NULL,
    error        TEXT
);
CREATE INDEX callback_attempts_of ON callback_attempts (callback_id, at);

-- every delivery a hook received, with the verdict (bodies kept for the operator to ask for)
CREATE TABLE hook_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    hook         TEXT NOT NULL,
    received_at  REAL NOT NULL,
    result       TEXT NOT NULL CHECK (result IN ('accepted', 'replay', 'bad_signature',
                   'stale', 'filtered', 'template_error', 'invalid')),
    reason       TEXT,
    delivery_id  TEXT,
    cue_id       TEXT,
    body         TEXT
);
CREATE INDEX hook_log_of ON hook_log (hook, seq);
CREATE INDEX hook_log_age ON hook_log (received_at);

ALTER TABLE api_keys ADD COLUMN callback_url TEXT;
