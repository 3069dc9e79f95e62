-- Named queries: each starts with "-- name: NAME" and runs as one statement.

-- name: insert_cue
INSERT INTO cues (id, room, transport, agent_name, payload, state, attempts, next_attempt_at,
                  expires_at, key_id, idempotency_key, request_hash, source, broadcast_id,
                  created_at, updated_at)
VALUES (:id, :room, :transport, :agent_name, :payload, 'queued', 0, :now,
        :expires_at, :key_id, :idempotency_key, :request_hash, :source, :broadcast_id,
        :now, :now);

-- name: insert_event
INSERT INTO cue_events (cue_id, at, state, reason, outcome)
VALUES (:cue_id, :at, :state, :reason, :outcome);

-- name: get_cue
SELECT * FROM cues WHERE id = :id;

-- name: get_cue_by_idempotency_key
SELECT * FROM cues WHERE key_id = :key_id AND idempotency_key = :idempotency_key;

-- name: get_events
SELECT at, state, reason, outcome FROM cue_events WHERE cue_id = :cue_id ORDER BY at, rowid;

-- name: claim_due
UPDATE cues SET state = 'sending', attempts = attempts + 1, updated_at = :now
WHERE id IN (
    SELECT id FROM cues
    WHERE state IN ('queued', 'retrying') AND next_attempt_at <= :now
    ORDER BY next_attempt_at, created_at
    LIMIT :limit
)
RETURNING *;

-- name: set_state
UPDATE cues
SET state = :state, reason = :reason,
    next_attempt_at = COALESCE(:next_attempt_at, next_attempt_at), updated_at = :now
WHERE id = :id AND state = :from_state;

-- name: set_outcome
-- Conditional on the state and outcome read in the same transaction (compare-and-set).
UPDATE cues
SET state = :state, outcome = :outcome, receipt = COALESCE(:receipt, receipt), reason = :reason,
    agent_identity = COALESCE(:identity, agent_identity),
    delivered_at = COALESCE(delivered_at, :now), updated_at = :now
WHERE id = :id AND state = :from_state AND outcome IS :from_outcome;

-- name: requeue
-- The agent left (or lost the cue) before acting on it: deliver it again, from now.
UPDATE cues
SET state = :state, outcome = :outcome, reason = :reason, next_attempt_at = :now,
    agent_identity = CASE WHEN :state = 'queued' THEN NULL ELSE agent_identity END,
    updated_at = :now
WHERE id = :id AND state = 'at_agent';

-- name: at_agent_of
SELECT id, outcome, expires_at FROM cues INDEXED BY cues_at_agent
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

-- name: held_rooms
SELECT DISTINCT room, agent_name FROM cues WHERE state = 'held';

-- name: due_to_expire
SELECT id, room, state, reason FROM cues INDEXED BY cues_expiry
WHERE state IN ('queued', 'retrying', 'held') AND expires_at <= :now;

-- name: set_expired
UPDATE cues SET state = 'expired', reason = :reason, updated_at = :now
WHERE id = :id AND state = :from_state;

-- name: purge_finished_events
DELETE FROM cue_events WHERE cue_id IN (
    SELECT id FROM cues WHERE state IN ('delivered', 'expired', 'failed') AND updated_at < :before
);

-- name: purge_finished
DELETE FROM cues WHERE state IN ('delivered', 'expired', 'failed') AND updated_at < :before;

-- name: purge_hook_deliveries
DELETE FROM hook_deliveries WHERE received_at < :before;

-- name: recover_sending
UPDATE cues SET state = 'retrying', next_attempt_at = :now, reason = :reason, updated_at = :now
WHERE state = 'sending'
RETURNING id;

-- name: next_due_at
SELECT MIN(next_attempt_at) AS at FROM cues WHERE state IN ('queued', 'retrying');

-- name: pending_for_room
-- Not acknowledged by an agent: still waiting or being sent, or sent with no word from the
-- agent yet (a packet sent as the agent joins arrives before it listens). Agents drop
-- duplicates by id.
SELECT * FROM cues
WHERE room = :room AND transport = 'data' AND expires_at > :now
  AND (state IN ('held', 'queued', 'retrying', 'sending')
       OR (state = 'at_agent' AND outcome IS NULL))
ORDER BY created_at;

-- name: count_by_state
-- Two halves, each with the state list of its partial index (cues_finished, cues_open),
-- so neither reads the table; together they cover every state the schema allows.
SELECT state, COUNT(*) AS n FROM cues WHERE state IN ('delivered', 'expired', 'failed')
GROUP BY state
UNION ALL
SELECT state, COUNT(*) AS n FROM cues
WHERE state IN ('queued', 'sending', 'held', 'retrying', 'at_agent')
GROUP BY state;

-- name: get_hook_delivery
SELECT cue_id FROM hook_deliveries WHERE hook = :hook AND delivery_id = :delivery_id;

-- name: insert_hook_delivery
INSERT INTO hook_deliveries (hook, delivery_id, cue_id, received_at)
VALUES (:hook, :delivery_id, :cue_id, :now);

-- name: get_last_tick
SELECT last_tick FROM schedule_ticks WHERE schedule = :schedule;

-- name: advance_tick
INSERT INTO schedule_ticks (schedule, last_tick) VALUES (:schedule, :tick)
ON CONFLICT (schedule) DO UPDATE SET last_tick = excluded.last_tick
WHERE schedule_ticks.last_tick < excluded.last_tick;

-- name: insert_key
INSERT INTO api_keys (id, secret_hash, scopes, name, created_at)
VALUES (:id, :secret_hash, :scopes, :name, :now);

-- name: get_key
SELECT * FROM api_keys WHERE id = :id AND revoked_at IS NULL;

-- name: list_keys
SELECT * FROM api_keys ORDER BY created_at, id;

-- name: revoke_key
UPDATE api_keys SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL;
