-- Named queries: each starts with "-- name: NAME" and runs as one statement.

-- name: ping
SELECT 1 AS one;

-- name: insert_cue
INSERT INTO cues (id, room, transport, agent_name, payload, state, attempts, next_attempt_at,
                  expires_at, key_id, idempotency_key, request_hash, source, broadcast_id,
                  callback_url, resent_from, created_at, updated_at)
VALUES (%(id)s, %(room)s, %(transport)s, %(agent_name)s, %(payload)s, 'queued', 0, %(now)s,
        %(expires_at)s, %(key_id)s, %(idempotency_key)s, %(request_hash)s, %(source)s,
        %(broadcast_id)s, %(callback_url)s, %(resent_from)s, %(now)s, %(now)s)
ON CONFLICT DO NOTHING
RETURNING *;

-- name: insert_event
INSERT INTO cue_events (cue_id, at, state, reason, outcome)
VALUES (%(cue_id)s, %(at)s, %(state)s, %(reason)s, %(outcome)s);

-- name: get_cue
SELECT * FROM cues WHERE id = %(id)s;

-- name: get_cue_for_update
SELECT * FROM cues WHERE id = %(id)s FOR UPDATE;

-- name: list_cues
SELECT * FROM cues
WHERE (%(room)s::text IS NULL OR room = %(room)s)
  AND (%(state)s::text IS NULL OR state = %(state)s)
  AND (%(outcome)s::text IS NULL OR outcome = %(outcome)s)
  AND (%(source_exact)s::text IS NULL OR source = %(source_exact)s)
  AND (%(source_prefix)s::text IS NULL OR left(source, length(%(source_prefix)s)) = %(source_prefix)s)
  AND (%(broadcast)s::int IS NULL OR (broadcast_id IS NOT NULL) = (%(broadcast)s::int = 1))
  AND (%(created_after)s::float8 IS NULL OR created_at >= %(created_after)s)
  AND (%(created_before)s::float8 IS NULL OR created_at < %(created_before)s)
  AND (%(cursor_at)s::float8 IS NULL OR created_at < %(cursor_at)s
       OR (created_at = %(cursor_at)s AND id < %(cursor_id)s))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s;

-- name: get_cue_by_idempotency_key
SELECT * FROM cues WHERE key_id = %(key_id)s AND idempotency_key = %(idempotency_key)s;

-- name: get_events
SELECT at, state, reason, outcome FROM cue_events WHERE cue_id = %(cue_id)s ORDER BY seq;

-- name: claim_due
-- SKIP LOCKED: instances claiming at the same moment take different cues, never wait
WITH due AS (
    SELECT id FROM cues
    WHERE state IN ('queued', 'retrying') AND next_attempt_at <= %(now)s
    ORDER BY next_attempt_at, created_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE cues SET state = 'sending', attempts = attempts + 1, owner = %(owner)s,
                updated_at = %(now)s
FROM due WHERE cues.id = due.id
RETURNING cues.*;

-- name: set_state
UPDATE cues
SET state = %(state)s, reason = %(reason)s, owner = NULL,
    next_attempt_at = COALESCE(%(next_attempt_at)s, next_attempt_at), updated_at = %(now)s
WHERE id = %(id)s AND state = %(from_state)s
  AND (%(owner)s::text IS NULL OR owner = %(owner)s);

-- name: set_outcome
UPDATE cues
SET state = %(state)s, outcome = %(outcome)s, receipt = COALESCE(%(receipt)s, receipt),
    reason = %(reason)s, owner = NULL,
    agent_identity = COALESCE(%(identity)s, agent_identity),
    delivered_at = COALESCE(delivered_at, %(now)s), updated_at = %(now)s
WHERE id = %(id)s;

-- name: requeue
UPDATE cues
SET state = %(state)s, outcome = %(outcome)s, reason = %(reason)s, next_attempt_at = %(now)s,
    agent_identity = CASE WHEN %(state)s = 'queued' THEN NULL ELSE agent_identity END,
    updated_at = %(now)s
WHERE id = %(id)s AND state = 'at_agent';

-- name: at_agent_of
SELECT id, outcome, expires_at, attempts FROM cues
WHERE room = %(room)s AND agent_identity = %(identity)s AND state = 'at_agent'
FOR UPDATE;

-- name: watched
SELECT id, room, agent_identity, outcome, transport, updated_at FROM cues
WHERE state = 'at_agent'
ORDER BY updated_at
LIMIT %(limit)s;

-- name: overdue
SELECT id, outcome, agent_identity FROM cues
WHERE state = 'at_agent' AND expires_at < %(before)s
FOR UPDATE SKIP LOCKED;

-- name: release_held
UPDATE cues
SET state = 'queued', next_attempt_at = %(now)s, reason = %(reason)s, updated_at = %(now)s
WHERE room = %(room)s AND state = 'held'
RETURNING id;

-- name: set_held_reason
UPDATE cues SET reason = %(reason)s
WHERE room = %(room)s AND state = 'held' AND reason IS DISTINCT FROM %(reason)s
RETURNING id;

-- name: held_rooms
SELECT DISTINCT room, agent_name FROM cues WHERE state = 'held';

-- name: due_to_expire
SELECT id, room, state, reason FROM cues
WHERE state IN ('queued', 'retrying', 'held') AND expires_at <= %(now)s
FOR UPDATE SKIP LOCKED;

-- name: set_expired
UPDATE cues SET state = 'expired', reason = %(reason)s, updated_at = %(now)s
WHERE id = %(id)s AND state = %(from_state)s;

-- name: purge_finished_events
-- (cue_events cascade with their cue; kept so every backend runs the same steps)
SELECT 1 AS one;

-- name: purge_finished
DELETE FROM cues WHERE state IN ('delivered', 'expired', 'failed', 'cancelled') AND updated_at < %(before)s;

-- name: purge_hook_deliveries
DELETE FROM hook_deliveries WHERE received_at < %(before)s;

-- name: take_over
-- cues being sent by an instance that is gone (its row expired or removed)
UPDATE cues SET state = 'retrying', owner = NULL, next_attempt_at = %(now)s,
                reason = %(reason)s, updated_at = %(now)s
WHERE state = 'sending'
  AND owner NOT IN (SELECT id FROM instances WHERE expires_at > %(now)s)
RETURNING id;

-- name: sending_by
SELECT id FROM cues WHERE state = 'sending' AND owner = %(owner)s;

-- name: next_due_at
SELECT MIN(next_attempt_at) AS at FROM cues WHERE state IN ('queued', 'retrying');

-- name: pending_for_room
-- Not acknowledged by an agent: still waiting or being sent, or sent with no word from the
-- agent yet (a packet sent as the agent joins arrives before it listens). Agents drop
-- duplicates by id. Marked as fetched: an agent may act on them now, so none can be cancelled.
UPDATE cues SET fetched_at = %(now)s
WHERE room = %(room)s AND transport = 'data' AND expires_at > %(now)s
  AND (state IN ('held', 'queued', 'retrying', 'sending')
       OR (state = 'at_agent' AND outcome IS NULL))
RETURNING *;

-- name: count_by_state
SELECT state, COUNT(*) AS n FROM cues GROUP BY state;

-- name: notify
SELECT pg_notify('livecue', '');

-- name: get_hook_delivery
SELECT cue_id FROM hook_deliveries WHERE hook = %(hook)s AND delivery_id = %(delivery_id)s;

-- name: insert_hook_delivery
-- (before the cue: a delivery racing in on another connection waits here for this one's
-- transaction, then finds its row and returns its cue; the key is the invariant)
INSERT INTO hook_deliveries (hook, delivery_id, cue_id, received_at)
VALUES (%(hook)s, %(delivery_id)s, %(cue_id)s, %(now)s)
ON CONFLICT DO NOTHING
RETURNING cue_id;

-- name: repoint_hook_delivery
UPDATE hook_deliveries SET cue_id = %(cue_id)s
WHERE hook = %(hook)s AND delivery_id = %(delivery_id)s;

-- name: last_fired
SELECT MAX(at) AS at FROM schedule_firings WHERE schedule = %(schedule)s;

-- name: get_last_tick
SELECT last_tick FROM schedule_ticks WHERE schedule = %(schedule)s;

-- name: advance_tick
INSERT INTO schedule_ticks (schedule, last_tick) VALUES (%(schedule)s, %(tick)s)
ON CONFLICT (schedule) DO UPDATE SET last_tick = excluded.last_tick
WHERE schedule_ticks.last_tick < excluded.last_tick;

-- name: insert_firing
INSERT INTO schedule_firings (schedule, tick, at, fired_at)
VALUES (%(schedule)s, %(tick)s, %(at)s, %(now)s)
ON CONFLICT DO NOTHING;

-- name: insert_key
INSERT INTO api_keys (id, secret_hash, scopes, name, callback_url, created_at)
VALUES (%(id)s, %(secret_hash)s, %(scopes)s, %(name)s, %(callback_url)s, %(now)s);

-- name: get_key
SELECT * FROM api_keys WHERE id = %(id)s AND revoked_at IS NULL;

-- name: list_keys
SELECT * FROM api_keys ORDER BY created_at, id;

-- name: revoke_key
UPDATE api_keys SET revoked_at = %(now)s WHERE id = %(id)s AND revoked_at IS NULL;

-- name: heartbeat
INSERT INTO instances (id, host, pid, started_at, expires_at)
VALUES (%(id)s, %(host)s, %(pid)s, %(now)s, %(expires_at)s)
ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at;

-- name: retire
DELETE FROM instances WHERE id = %(id)s OR expires_at < %(long_ago)s;

-- name: live_instances
SELECT id FROM instances WHERE expires_at > %(now)s ORDER BY id;

-- name: ensure_bucket
INSERT INTO rate_buckets (name, tokens, updated_at) VALUES (%(name)s, %(burst)s, %(now)s)
ON CONFLICT (name) DO NOTHING;

-- name: lock_bucket
SELECT tokens, updated_at FROM rate_buckets WHERE name = %(name)s FOR UPDATE;

-- name: set_bucket
UPDATE rate_buckets SET tokens = %(tokens)s, updated_at = %(now)s WHERE name = %(name)s;

-- name: cancel
UPDATE cues SET state = 'cancelled', reason = %(reason)s, updated_at = %(now)s
WHERE id = %(id)s AND state IN ('queued', 'held', 'retrying') AND fetched_at IS NULL;

-- name: enqueue_callback
-- (a cue just became final: its callback, if it names a URL; one per cue)
INSERT INTO callbacks (id, cue_id, url, event, state, attempts, next_attempt_at, created_at,
                       updated_at)
SELECT %(callback_id)s, id, callback_url, %(event)s, 'pending', 0, %(now)s, %(now)s, %(now)s
FROM cues WHERE id = %(cue_id)s AND callback_url IS NOT NULL
ON CONFLICT DO NOTHING;

-- name: claim_callbacks
UPDATE callbacks SET state = 'sending', attempts = attempts + 1, owner = %(owner)s,
                     updated_at = %(now)s
WHERE id IN (
    SELECT id FROM callbacks
    WHERE state = 'pending' AND next_attempt_at <= %(now)s
    ORDER BY next_attempt_at
    LIMIT %(limit)s FOR UPDATE SKIP LOCKED
)
RETURNING *;

-- name: callback_attempt
INSERT INTO callback_attempts (callback_id, at, status, duration_ms, error)
VALUES (%(callback_id)s, %(at)s, %(status)s, %(duration_ms)s, %(error)s);

-- name: callback_done
UPDATE callbacks SET state = %(state)s, next_attempt_at = %(next_attempt_at)s, owner = NULL,
                     updated_at = %(now)s
WHERE id = %(id)s AND state = 'sending';

-- name: callbacks_of
SELECT * FROM callbacks WHERE cue_id = %(cue_id)s;

-- name: callback_attempts_of
SELECT at, status, duration_ms, error FROM callback_attempts
WHERE callback_id = %(callback_id)s ORDER BY at;

-- name: record_cut_off_callbacks
-- (before take_over_callbacks: the attempt under way was cut off; recorded, as every attempt is)
INSERT INTO callback_attempts (callback_id, at, status, duration_ms, error)
SELECT id, updated_at, NULL, 0, %(error)s FROM callbacks
WHERE state = 'sending'
  AND (owner IS NULL OR owner NOT IN (SELECT id FROM instances WHERE expires_at > %(now)s));

-- name: take_over_callbacks
UPDATE callbacks SET state = 'pending', owner = NULL, updated_at = %(now)s
WHERE state = 'sending'
  AND (owner IS NULL OR owner NOT IN (SELECT id FROM instances WHERE expires_at > %(now)s));

-- name: next_callback_at
SELECT MIN(next_attempt_at) AS at FROM callbacks WHERE state = 'pending';

-- name: log_hook
INSERT INTO hook_log (hook, received_at, result, reason, delivery_id, cue_id, body)
VALUES (%(hook)s, %(received_at)s, %(result)s, %(reason)s, %(delivery_id)s, %(cue_id)s, %(body)s);

-- name: hook_log
SELECT * FROM hook_log
WHERE hook = %(hook)s AND (%(before)s::bigint IS NULL OR seq < %(before)s)
ORDER BY seq DESC
LIMIT %(limit)s;

-- name: purge_hook_log
DELETE FROM hook_log WHERE received_at < %(before)s;

-- name: cues_changed
SELECT * FROM cues WHERE updated_at > %(after)s ORDER BY updated_at, id LIMIT %(limit)s;

-- name: outcome_counts
SELECT state, outcome, COUNT(*) AS n FROM cues WHERE created_at >= %(since)s
GROUP BY state, outcome;

-- name: delivery_times
SELECT created_at, delivered_at FROM cues
WHERE created_at >= %(since)s AND delivered_at IS NOT NULL
ORDER BY created_at LIMIT %(limit)s;
