-- The nation's standing: stages reached, relations with states and bodies, censuses and the
-- real-estate footprint, each an append-only history. Nothing is updated or deleted.
CREATE TABLE stage_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    stage       TEXT NOT NULL,
    at          INTEGER NOT NULL,
    reason      TEXT,
    source      TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
);

CREATE TABLE relation_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    recognizer  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    relation    TEXT NOT NULL,
    at          INTEGER NOT NULL,
    source      TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at INTEGER NOT NULL
);

CREATE TABLE census_records (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    protocity           TEXT NOT NULL,
    at                  INTEGER NOT NULL,
    population          INTEGER NOT NULL CHECK (population >= 0),
    residents           INTEGER NOT NULL CHECK (residents >= 0),
    online_members      INTEGER NOT NULL CHECK (online_members >= 0),
    yearly_income       INTEGER NOT NULL CHECK (yearly_income >= 0),
    parcels_crowdfunded INTEGER NOT NULL CHECK (parcels_crowdfunded >= 0),
    source              TEXT NOT NULL,
    recorded_by         TEXT NOT NULL,
    recorded_at         INTEGER NOT NULL
);
CREATE INDEX census_by_date ON census_records (at, id);

-- Computed from the parcel registry whenever a protocity's total changed.
CREATE TABLE footprints (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    protocity   TEXT NOT NULL,
    at          INTEGER NOT NULL,
    area_m2     INTEGER NOT NULL
);

-- What of the world data's standing has been stored: 'nation' (stages and relations) and
-- 'protocity:<id>' (its censuses and footprint history), each once, so a protocity added
-- later gets its own too.
CREATE TABLE standing_seeds (
    what        TEXT PRIMARY KEY,
    at          INTEGER NOT NULL
);
