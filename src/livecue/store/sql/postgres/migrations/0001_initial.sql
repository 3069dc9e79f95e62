-- livecue gateway schema, version 1 (PostgreSQL). Invariants live here, not in Python.
-- Times are seconds since the epoch (double precision), as in the SQLite schema.

CREATE TABLE cues (
    id               text PRIMARY KEY,
    room             text NOT NULL,
    transport        text NOT NULL CHECK (transport IN ('rpc', 'data')),
    agent_name       text,
    payload          text NOT NULL,              -- the v1 envelope, unsigned (signed when sent)
    state            text NOT NULL CHECK (state IN
                       ('queued', 'sending', 'held', 'retrying', 'at_agent',
                        'delivered', 'expired', 'failed')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  double precision NOT NULL,
    expires_at       double precision NOT NULL,
    owner            text,                       -- the instance sending it (state 'sending')
    agent_identity   text,                       -- the agent that has (or had) it
    outcome          text,                       -- the agent's latest outcome
    receipt          text,                       -- that outcome as JSON: said, speech times, ...
    reason           text,
    key_id           text,                       -- API key that created it ('' for hooks)
    idempotency_key  text,
    request_hash     text,
    source           text NOT NULL DEFAULT 'api',
    broadcast_id     text,
    created_at       double precision NOT NULL,
    updated_at       double precision NOT NULL,
    delivered_at     double precision,           -- when an agent first had it
    CHECK (state <> 'at_agent' OR agent_identity IS NOT NULL),
    CHECK (state <> 'sending' OR owner IS NOT NULL)
);

-- the same key from the same caller is the same cue, whichever instance took the request
CREATE UNIQUE INDEX cues_idempotency ON cues (key_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX cues_due ON cues (next_attempt_at) WHERE state IN ('queued', 'retrying');
CREATE INDEX cues_held ON cues (room) WHERE state = 'held';
CREATE INDEX cues_sending ON cues (owner) WHERE state = 'sending';
CREATE INDEX cues_at_agent ON cues (room, agent_identity) WHERE state = 'at_agent';
CREATE INDEX cues_expiry ON cues (expires_at) WHERE state IN ('queued', 'retrying', 'held');
CREATE INDEX cues_room ON cues (room, created_at);
CREATE INDEX cues_finished ON cues (state, updated_at)
    WHERE state IN ('delivered', 'expired', 'failed');

CREATE TABLE cue_events (
    seq      bigserial PRIMARY KEY,
    cue_id   text NOT NULL REFERENCES cues (id) ON DELETE CASCADE,
    at       double precision NOT NULL,
    state    text NOT NULL,
    reason   text,
    outcome  text
);
CREATE INDEX cue_events_cue ON cue_events (cue_id, seq);

-- an inbound webhook delivery is turned into at most one cue, across instances
CREATE TABLE hook_deliveries (
    hook         text NOT NULL,
    delivery_id  text NOT NULL,
    cue_id       text NOT NULL,
    received_at  double precision NOT NULL,
    PRIMARY KEY (hook, delivery_id)
);
CREATE INDEX hook_deliveries_age ON hook_deliveries (received_at);

-- each tick of a schedule fires once, across instances and across a daylight-saving change:
-- a tick is named by its wall-clock time in the schedule's zone
CREATE TABLE schedule_firings (
    schedule  text NOT NULL,
    tick      text NOT NULL,                      -- local wall-clock time, e.g. 2027-10-31T02:30
    at        double precision NOT NULL,          -- the instant it fired for
    fired_at  double precision NOT NULL,
    PRIMARY KEY (schedule, tick)
);
CREATE INDEX schedule_firings_latest ON schedule_firings (schedule, at);

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    secret_hash  text NOT NULL,
    scopes       text NOT NULL,                  -- space-separated
    name         text,
    created_at   double precision NOT NULL,
    revoked_at   double precision
);

-- gateway instances alive: each renews its row; a cue being sent by an instance whose row
-- has expired is taken over by the others
CREATE TABLE instances (
    id          text PRIMARY KEY,
    host        text NOT NULL,
    pid         integer NOT NULL,
    started_at  double precision NOT NULL,
    expires_at  double precision NOT NULL
);

-- shared token buckets for the rate limits: instances take tokens in small chunks
CREATE TABLE rate_buckets (
    name        text PRIMARY KEY,
    tokens      double precision NOT NULL,
    updated_at  double precision NOT NULL
);

-- the last tick each schedule has dealt with (fired, or skipped as too old): where to resume
CREATE TABLE schedule_ticks (
    schedule   text PRIMARY KEY,
    last_tick  double precision NOT NULL
);
