-- The land registry: one row per parcel, seeded from the world data, then owned by the database.
CREATE TABLE parcels (
    id           TEXT PRIMARY KEY NOT NULL,
    protocity    TEXT NOT NULL,
    owner_kind   TEXT NOT NULL CHECK (owner_kind IN ('unowned', 'member', 'group')),
    -- The member's public key (hex) when owner_kind is 'member'.
    owner_key    TEXT,
    -- The member's or group's name; NULL when unowned.
    owner_name   TEXT,
    area_m2      INTEGER NOT NULL CHECK (area_m2 > 0),
    zoning       TEXT NOT NULL
                 CHECK (zoning IN ('residential', 'commercial', 'civic', 'agricultural', 'reserved')),
    status       TEXT NOT NULL CHECK (status IN ('owned', 'for-sale', 'crowdfunding', 'reserved')),
    -- The asking price when for sale, the goal when crowdfunding, else NULL. Whole dollars.
    amount       INTEGER,
    -- Dollars pledged while crowdfunding.
    raised       INTEGER NOT NULL DEFAULT 0 CHECK (raised >= 0),
    residency    TEXT NOT NULL CHECK (residency IN ('visitor', 'member', 'resident', 'founder')),
    jurisdiction TEXT NOT NULL,
    address      TEXT NOT NULL,
    latitude     REAL NOT NULL,
    longitude    REAL NOT NULL,
    deed_hash    TEXT NOT NULL,
    description  TEXT NOT NULL,
    version      INTEGER NOT NULL CHECK (version >= 1),
    updated_at   INTEGER NOT NULL,
    CHECK ((owner_kind = 'unowned') = (owner_name IS NULL)),
    CHECK ((owner_kind = 'member') = (owner_key IS NOT NULL)),
    CHECK ((status IN ('for-sale', 'crowdfunding')) = (amount IS NOT NULL AND amount > 0)),
    CHECK (status <> 'owned' OR owner_kind <> 'unowned')
);
CREATE INDEX parcels_owner ON parcels (owner_name);
CREATE INDEX parcels_status ON parcels (status);

-- Every change to a parcel: one row per version, so the history has no gaps or forks.
CREATE TABLE parcel_history (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    parcel_id TEXT NOT NULL REFERENCES parcels (id),
    version   INTEGER NOT NULL,
    by_name   TEXT NOT NULL,
    by_key    TEXT,
    what      TEXT NOT NULL,
    at        INTEGER NOT NULL,
    UNIQUE (parcel_id, version)
);

-- Pledges to crowdfunding parcels.
CREATE TABLE pledges (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    parcel_id  TEXT NOT NULL REFERENCES parcels (id),
    public_key TEXT NOT NULL,
    name       TEXT NOT NULL,
    amount     INTEGER NOT NULL CHECK (amount > 0),
    at         INTEGER NOT NULL
);
CREATE INDEX pledges_parcel ON pledges (parcel_id);
