-- Sanctions hold where and as whom they were set. A ban holds in its hall; a founder's mute
-- everywhere (protocity NULL); a chair's mute in their hall. `by_role` is the role of whoever
-- set it: nobody of a lower role lifts or shortens it. Sanctions from before this migration
-- are taken as a founder's (the strict reading).
CREATE TABLE sanctions_scoped (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL CHECK (kind IN ('mute', 'ban')),
    subject_key  TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    protocity    TEXT,
    until        INTEGER,
    reason       TEXT NOT NULL,
    by_name      TEXT NOT NULL,
    by_role      TEXT NOT NULL DEFAULT 'founder'
                 CHECK (by_role IN ('visitor', 'member', 'resident', 'founder')),
    at           INTEGER NOT NULL,
    lifted_at    INTEGER,
    lifted_by    TEXT,
    CHECK (kind = 'mute' OR protocity IS NOT NULL)
);
INSERT INTO sanctions_scoped (id, kind, subject_key, subject_name, protocity, until, reason,
                              by_name, by_role, at, lifted_at, lifted_by)
    SELECT id, kind, subject_key, subject_name, protocity, until, reason, by_name, 'founder',
           at, lifted_at, lifted_by
    FROM sanctions;
DROP TABLE sanctions;
ALTER TABLE sanctions_scoped RENAME TO sanctions;
CREATE INDEX sanctions_subject ON sanctions (subject_key, lifted_at);
