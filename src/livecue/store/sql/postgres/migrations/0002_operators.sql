-- Version 2: what operators and integrators need. A cue can be cancelled before it reaches an
-- agent, resent (the new cue names the original), and name a callback URL for its final
-- outcome; callbacks and every attempt at them are kept; every hook delivery is logged with
-- the verdict; a key can carry a callback URL.

ALTER TABLE cues DROP CONSTRAINT cues_state_check;
ALTER TABLE cues ADD CONSTRAINT cues_state_check CHECK (state IN
    ('queued', 'sending', 'held', 'retrying', 'at_agent',
     'delivered', 'expired', 'failed', 'cancelled'));
ALTER TABLE cues ADD COLUMN callback_url text;
ALTER TABLE cues ADD COLUMN resent_from text;
CREATE INDEX cues_created ON cues (created_at, id);
CREATE INDEX cues_updated ON cues (updated_at);
DROP INDEX cues_finished;
CREATE INDEX cues_finished ON cues (state, updated_at)
    WHERE state IN ('delivered', 'expired', 'failed', 'cancelled');

CREATE TABLE callbacks (
    id               text PRIMARY KEY,
    cue_id           text NOT NULL UNIQUE REFERENCES cues (id) ON DELETE CASCADE,
    url              text NOT NULL,
    event            text NOT NULL,
    state            text NOT NULL CHECK (state IN ('pending', 'sending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  double precision NOT NULL,
    owner            text,
    created_at       double precision NOT NULL,
    updated_at       double precision NOT NULL
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE state = 'pending';
CREATE INDEX callbacks_sending ON callbacks (owner) WHERE state = 'sending';

CREATE TABLE callback_attempts (
    callback_id  text NOT NULL REFERENCES callbacks (id) ON DELETE CASCADE,
    at           double precision NOT NULL,
    status       integer,
    duration_ms  double precision NOT NULL,
    error        text
);
CREATE INDEX callback_attempts_of ON callback_attempts (callback_id, at);

CREATE TABLE hook_log (
    seq          bigserial PRIMARY KEY,
    hook         text NOT NULL,
    received_at  double precision NOT NULL,
    result       text NOT NULL CHECK (result IN ('accepted', 'replay', 'bad_signature',
                   'stale', 'filtered', 'template_error', 'invalid')),
    reason       text,
    delivery_id  text,
    cue_id       text,
    body         text
);
CREATE INDEX hook_log_of ON hook_log (hook, seq);
CREATE INDEX hook_log_age ON hook_log (received_at);

ALTER TABLE api_keys ADD COLUMN callback_url text;
