-- Version 3: when an agent last fetched a data-transport cue through its catch-up call. Such a
-- cue may be acted on at any moment, so it can no longer be cancelled.

ALTER TABLE cues ADD COLUMN fetched_at double precision;
