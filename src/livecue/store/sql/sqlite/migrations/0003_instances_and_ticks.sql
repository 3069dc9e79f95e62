-- Version 3: the instance sending a cue is recorded (so a crashed one's cues are taken over),
-- and each schedule tick is fired once, named by its wall-clock time (a daylight-saving change
-- cannot make one wall-clock time fire twice).

ALTER TABLE cues ADD COLUMN owner TEXT;
CREATE INDEX cues_sending ON cues (owner) WHERE state = 'sending';

CREATE TABLE instances (
    id          TEXT PRIMARY KEY,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    started_at  REAL NOT NULL,
    expires_at  REAL NOT NULL
);

CREATE TABLE schedule_firings (
    schedule  TEXT NOT NULL,
    tick      TEXT NOT NULL,                      -- local wall-clock time, e.g. 2027-10-31T02:30
    at        REAL NOT NULL,                      -- the instant it fired for
    fired_at  REAL NOT NULL,
    PRIMARY KEY (schedule, tick)
);
CREATE INDEX schedule_firings_latest ON schedule_firings (schedule, at);
