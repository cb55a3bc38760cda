-- Assemblies: sessions in the town halls, their minutes, and moderation.
CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    protocity   TEXT NOT NULL,
    title       TEXT NOT NULL,
    -- The agenda as JSON (a list of shared::assembly::AgendaItem).
    agenda      TEXT NOT NULL,
    chair_key   TEXT NOT NULL,
    chair_name  TEXT NOT NULL,
    opened_by   TEXT NOT NULL,
    opened_at   INTEGER NOT NULL,
    closed_at   INTEGER,
    -- How many the main hall held; later arrivals followed from the overflow room.
    capacity    INTEGER NOT NULL
);
CREATE INDEX sessions_open ON sessions (closed_at);

-- What happened in a session, in order: who came and went, who spoke, what was decided.
CREATE TABLE session_minutes (
    session_id  INTEGER NOT NULL REFERENCES sessions (id),
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    who         TEXT,
    who_key     TEXT,
    detail      TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);

-- Mutes (everywhere) and bans (from one hall) in force or lifted; a NULL `until` lasts
-- until lifted.
CREATE TABLE sanctions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL CHECK (kind IN ('mute', 'ban')),
    subject_key  TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    protocity    TEXT,
    until        INTEGER,
    reason       TEXT NOT NULL,
    by_name      TEXT NOT NULL,
    at           INTEGER NOT NULL,
    lifted_at    INTEGER,
    lifted_by    TEXT,
    CHECK ((kind = 'ban') = (protocity IS NOT NULL))
);
CREATE INDEX sanctions_subject ON sanctions (subject_key, lifted_at);

-- Every moderation action: who did what to whom, where, why and when. Never changes.
CREATE TABLE moderation_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    actor_name   TEXT NOT NULL,
    actor_key    TEXT,
    action       TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    subject_key  TEXT NOT NULL,
    protocity    TEXT NOT NULL,
    until        INTEGER,
    reason       TEXT NOT NULL
);

CREATE TRIGGER moderation_log_is_final
BEFORE UPDATE ON moderation_log
BEGIN
    SELECT RAISE(ABORT, 'the moderation log never changes');
END;

-- Live events scheduled in the town halls.
CREATE TABLE events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    title        TEXT NOT NULL,
    protocity    TEXT NOT NULL,
    starts_at    INTEGER NOT NULL,
    minutes      INTEGER NOT NULL CHECK (minutes > 0),
    capacity     INTEGER NOT NULL CHECK (capacity > 0),
    audience     TEXT NOT NULL CHECK (audience IN ('visitor', 'member', 'resident', 'founder')),
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    cancelled_at INTEGER
);
CREATE INDEX events_start ON events (starts_at);
