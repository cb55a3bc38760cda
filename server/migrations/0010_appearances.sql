-- Each member's chosen look (shared/src/avatars/appearance.rs), by key: one index per part
-- into the palettes of the record's version. A key without a row wears the look its key picks.
CREATE TABLE appearances (
    public_key TEXT PRIMARY KEY NOT NULL,
    version INTEGER NOT NULL,
    body INTEGER NOT NULL,
    height INTEGER NOT NULL,
    skin INTEGER NOT NULL,
    hair INTEGER NOT NULL,
    hair_colour INTEGER NOT NULL,
    outfit_top INTEGER NOT NULL,
    outfit_bottom INTEGER NOT NULL,
    accessory INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
