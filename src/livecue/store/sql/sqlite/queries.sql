-- Named queries: each starts with "-- name: NAME" and runs as one statement.

-- name: ping
SELECT 1 AS one;

-- name: insert_cue
INSERT INTO cues (id, room, transport, agent_name, payload, state, attempts, next_attempt_at,
                  expires_at, key_id, idempotency_key, request_hash, source, broadcast_id,
                  callback_url, resent_from, created_at, updated_at)
VALUES (:id, :room, :transport, :agent_name, :payload, 'queued', 0, :now,
        :expires_at, :key_id, :idempotency_key, :request_hash, :source, :broadcast_id,
        :callback_url, :resent_from, :now, :now)
ON CONFLICT DO NOTHING
RETURNING *;

-- name: insert_event
INSERT INTO cue_events (cue_id, at, state, reason, outcome)
VALUES (:cue_id, :at, :state, :reason, :outcome);

-- name: get_cue
SELECT * FROM cues WHERE id = :id;

-- name: get_cue_for_update
-- (the write transaction, BEGIN IMMEDIATE, already holds SQLite's one write lock)
SELECT * FROM cues WHERE id = :id;

-- name: list_cues
SELECT * FROM cues
WHERE (:room IS NULL OR room = :room)
  AND (:state IS NULL OR state = :state)
  AND (:outcome IS NULL OR outcome = :outcome)
  AND (:source_exact IS NULL OR source = :source_exact)
  AND (:source_prefix IS NULL OR substr(source, 1, length(:source_prefix)) = :source_prefix)
  AND (:broadcast IS NULL OR (broadcast_id IS NOT NULL) = :broadcast)
  AND (:created_after IS NULL OR created_at >= :created_after)
  AND (:created_before IS NULL OR created_at < :created_before)
  AND (:cursor_at IS NULL OR created_at < :cursor_at
       OR (created_at = :cursor_at AND id < :cursor_id))
ORDER BY created_at DESC, id DESC
LIMIT :limit;

-- name: get_cue_by_idempotency_key
SELECT * FROM cues WHERE key_id = :key_id AND idempotency_key = :idempotency_key;

-- name: get_events
SELECT at, state, reason, outcome FROM cue_events WHERE cue_id = :cue_id ORDER BY at, rowid;

-- name: claim_due
UPDATE cues SET state = 'sending', attempts = attempts + 1, owner = :owner, updated_at = :now
WHERE id IN (
    SELECT id FROM cues
    WHERE state IN ('queued', 'retrying') AND next_attempt_at <= :now
    ORDER BY next_attempt_at, created_at
    LIMIT :limit
)
RETURNING *;

-- name: set_state
UPDATE cues
SET state = :state, reason = :reason, owner = NULL,
    next_attempt_at = COALESCE(:next_attempt_at, next_attempt_at), updated_at = :now
WHERE id = :id AND state = :from_state AND (:owner IS NULL OR owner = :owner);

-- name: set_outcome
-- (after reading the cue in the same transaction: a compare-and-set)
UPDATE cues
SET state = :state, outcome = :outcome, receipt = COALESCE(:receipt, receipt), reason = :reason,
    owner = NULL, agent_identity = COALESCE(:identity, agent_identity),
    delivered_at = COALESCE(delivered_at, :now), updated_at = :now
WHERE id = :id;

-- name: requeue
-- The agent left (or lost the cue) before acting on it: deliver it again, from now.
UPDATE cues
SET state = :state, outcome = :outcome, reason = :reason, next_attempt_at = :now,
    agent_identity = CASE WHEN :state = 'queued' THEN NULL ELSE agent_identity END,
    updated_at = :now
WHERE id = :id AND state = 'at_agent';

-- name: at_agent_of
SELECT id, outcome, expires_at, attempts FROM cues INDEXED BY cues_at_agent
WHERE room = :room AND agent_identity = :identity AND state = 'at_agent';

-- name: watched
SELECT id, room, agent_identity, outcome, transport, updated_at FROM cues
WHERE state = 'at_agent'
ORDER BY updated_at
LIMIT :limit;

-- name: overdue
SELECT id, outcome, agent_identity FROM cues
WHERE state = 'at_agent' AND expires_at < :before;

-- name: release_held
-- the planner prefers cues_room, which walks the room's whole history; only held rows matter
UPDATE cues INDEXED BY cues_held
SET state = 'queued', next_attempt_at = :now, reason = :reason, updated_at = :now
WHERE room = :room AND state = 'held'
RETURNING id;

-- name: set_held_reason
UPDATE cues INDEXED BY cues_held SET reason = :reason
WHERE room = :room AND state = 'held' AND reason IS NOT :reason
RETURNING id;

-- name: held_rooms
SELECT DISTINCT room, agent_name FROM cues INDEXED BY cues_held WHERE state = 'held';

-- name: due_to_expire
SELECT id, room, state, reason FROM cues INDEXED BY cues_expiry
WHERE state IN ('queued', 'retrying', 'held') AND expires_at <= :now;

-- name: set_expired
UPDATE cues SET state = 'expired', reason = :reason, updated_at = :now
WHERE id = :id AND state = :from_state;

-- name: purge_finished_events
DELETE FROM cue_events WHERE cue_id IN (
    SELECT id FROM cues WHERE state IN ('delivered', 'expired', 'failed', 'cancelled') AND updated_at < :before
);

-- name: purge_finished
DELETE FROM cues WHERE state IN ('delivered', 'expired', 'failed', 'cancelled') AND updated_at < :before;

-- name: purge_hook_deliveries
DELETE FROM hook_deliveries WHERE received_at < :before;

-- name: take_over
-- cues being sent by an instance that is gone (its row expired or removed)
UPDATE cues SET state = 'retrying', owner = NULL, next_attempt_at = :now, reason = :reason,
                updated_at = :now
WHERE state = 'sending'
  AND (owner IS NULL OR owner NOT IN (SELECT id FROM instances WHERE expires_at > :now))
RETURNING id;

-- name: sending_by
SELECT id FROM cues WHERE state = 'sending' AND owner = :owner;

-- name: next_due_at
SELECT MIN(next_attempt_at) AS at FROM cues WHERE state IN ('queued', 'retrying');

-- name: pending_for_room
-- Not acknowledged by an agent: still waiting or being sent, or sent with no word from the
-- agent yet (a packet sent as the agent joins arrives before it listens). Agents drop
-- duplicates by id. Marked as fetched: an agent may act on them now, so none can be cancelled.
UPDATE cues SET fetched_at = :now
WHERE room = :room AND transport = 'data' AND expires_at > :now
  AND (state IN ('held', 'queued', 'retrying', 'sending')
       OR (state = 'at_agent' AND outcome IS NULL))
RETURNING *;

-- name: count_by_state
-- Two halves, each with the state list of its partial index (cues_finished, cues_open),
-- so neither reads the table; together they cover every state the schema allows.
SELECT state, COUNT(*) AS n FROM cues
WHERE state IN ('delivered', 'expired', 'failed', 'cancelled')
GROUP BY state
UNION ALL
SELECT state, COUNT(*) AS n FROM cues
WHERE state IN ('queued', 'sending', 'held', 'retrying', 'at_agent')
GROUP BY state;

-- name: get_hook_delivery
SELECT cue_id FROM hook_deliveries WHERE hook = :hook AND delivery_id = :delivery_id;

-- name: insert_hook_delivery
-- (before the cue: a delivery racing in on another connection waits here for this one's
-- transaction, then finds its row and returns its cue; the key is the invariant)
INSERT INTO hook_deliveries (hook, delivery_id, cue_id, received_at)
VALUES (:hook, :delivery_id, :cue_id, :now)
ON CONFLICT DO NOTHING
RETURNING cue_id;

-- name: repoint_hook_delivery
UPDATE hook_deliveries SET cue_id = :cue_id
WHERE hook = :hook AND delivery_id = :delivery_id;

-- name: last_fired
SELECT MAX(at) AS at FROM schedule_firings WHERE schedule = :schedule;

-- name: get_last_tick
SELECT last_tick FROM schedule_ticks WHERE schedule = :schedule;

-- name: advance_tick
INSERT INTO schedule_ticks (schedule, last_tick) VALUES (:schedule, :tick)
ON CONFLICT (schedule) DO UPDATE SET last_tick = excluded.last_tick
WHERE schedule_ticks.last_tick < excluded.last_tick;

-- name: insert_firing
INSERT INTO schedule_firings (schedule, tick, at, fired_at) VALUES (:schedule, :tick, :at, :now)
ON CONFLICT DO NOTHING;

-- name: heartbeat
INSERT INTO instances (id, host, pid, started_at, expires_at)
VALUES (:id, :host, :pid, :now, :expires_at)
ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at;

-- name: retire
DELETE FROM instances WHERE id = :id OR expires_at < :long_ago;

-- name: retire_others
DELETE FROM instances WHERE id <> :id;

-- name: live_instances
SELECT id FROM instances WHERE expires_at > :now ORDER BY id;

-- name: insert_key
INSERT INTO api_keys (id, secret_hash, scopes, name, callback_url, created_at)
VALUES (:id, :secret_hash, :scopes, :name, :callback_url, :now);

-- name: get_key
SELECT * FROM api_keys WHERE id = :id AND revoked_at IS NULL;

-- name: list_keys
SELECT * FROM api_keys ORDER BY created_at, id;

-- name: revoke_key
UPDATE api_keys SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL;

-- name: cancel
UPDATE cues SET state = 'cancelled', reason = :reason, updated_at = :now
WHERE id = :id AND state IN ('queued', 'held', 'retrying') AND fetched_at IS NULL;

-- name: enqueue_callback
-- (a cue just became final: its callback, if it names a URL; one per cue)
INSERT INTO callbacks (id, cue_id, url, event, state, attempts, next_attempt_at, created_at,
                       updated_at)
SELECT :callback_id, id, callback_url, :event, 'pending', 0, :now, :now, :now
FROM cues WHERE id = :cue_id AND callback_url IS NOT NULL
ON CONFLICT DO NOTHING;

-- name: claim_callbacks
UPDATE callbacks SET state = 'sending', attempts = attempts + 1, owner = :owner,
                     updated_at = :now
WHERE id IN (
    SELECT id FROM callbacks
    WHERE state = 'pending' AND next_attempt_at <= :now
    ORDER BY next_attempt_at
    LIMIT :limit
)
RETURNING *;

-- name: callback_attempt
INSERT INTO callback_attempts (callback_id, at, status, duration_ms, error)
VALUES (:callback_id, :at, :status, :duration_ms, :error);

-- name: callback_done
UPDATE callbacks SET state = :state, next_attempt_at = :next_attempt_at, owner = NULL,
                     updated_at = :now
WHERE id = :id AND state = 'sending';

-- name: callbacks_of
SELECT * FROM callbacks WHERE cue_id = :cue_id;

-- name: callback_attempts_of
SELECT at, status, duration_ms, error FROM callback_attempts
WHERE callback_id = :callback_id ORDER BY at;

-- name: record_cut_off_callbacks
-- (before take_over_callbacks: the attempt under way was cut off; recorded, as every attempt is)
INSERT INTO callback_attempts (callback_id, at, status, duration_ms, error)
SELECT id, updated_at, NULL, 0, :error FROM callbacks
WHERE state = 'sending'
  AND (owner IS NULL OR owner NOT IN (SELECT id FROM instances WHERE expires_at > :now));

-- name: take_over_callbacks
UPDATE callbacks SET state = 'pending', owner = NULL, updated_at = :now
WHERE state = 'sending'
  AND (owner IS NULL OR owner NOT IN (SELECT id FROM instances WHERE expires_at > :now));

-- name: next_callback_at
SELECT MIN(next_attempt_at) AS at FROM callbacks WHERE state = 'pending';

-- name: log_hook
INSERT INTO hook_log (hook, received_at, result, reason, delivery_id, cue_id, body)
VALUES (:hook, :received_at, :result, :reason, :delivery_id, :cue_id, :body);

-- name: hook_log
SELECT * FROM hook_log
WHERE hook = :hook AND (:before IS NULL OR seq < :before)
ORDER BY seq DESC
LIMIT :limit;

-- name: purge_hook_log
DELETE FROM hook_log WHERE received_at < :before;

-- name: cues_changed
SELECT * FROM cues WHERE updated_at > :after ORDER BY updated_at, id LIMIT :limit;

-- name: outcome_counts
SELECT state, outcome, COUNT(*) AS n FROM cues WHERE created_at >= :since
GROUP BY state, outcome;

-- name: delivery_times
SELECT created_at, delivered_at FROM cues
WHERE created_at >= :since AND delivered_at IS NOT NULL
ORDER BY created_at LIMIT :limit;
